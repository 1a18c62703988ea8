package fault

// pid returns the PID of packet p.
func pid(p []byte) uint16 { return uint16(p[1]&0x1F)<<8 | uint16(p[2]) }

// setPID changes the PID of packet p.
func setPID(p []byte, v uint16) { put13(p[1:], v) }

// payload returns the payload of p, or nil if it has none or its
// adaptation field overruns it.
func payload(p []byte) []byte {
	afc := p[3] >> 4 & 3
	if afc&1 == 0 {
		return nil
	}
	off := 4
	if afc&2 != 0 {
		off += 1 + int(p[4])
	}
	if off >= len(p) {
		return nil
	}
	return p[off:]
}

// section returns the PSI section starting in p (PUSI set), cut to its
// section_length, or nil if p starts none or it does not fit in p.
func section(p []byte) []byte {
	if p[1]&0x40 == 0 {
		return nil
	}
	pl := payload(p)
	if len(pl) < 1 || 1+int(pl[0])+3 > len(pl) {
		return nil
	}
	sec := pl[1+int(pl[0]):]
	n := 3 + int(sec[1]&0x0F)<<8 + int(sec[2])
	if n > len(sec) || n < 12 {
		return nil
	}
	return sec[:n]
}

// patEntry is one program of a PAT; off is the offset of its
// program_number in the section.
type patEntry struct {
	program, pmtPID uint16
	off             int
}

// patPrograms returns the programs of a PAT section (the network PID entry,
// program 0, left out).
func patPrograms(sec []byte) []patEntry {
	if sec[0] != 0x00 {
		return nil
	}
	var out []patEntry
	for i := 8; i+4 <= len(sec)-4; i += 4 {
		if prog := uint16(sec[i])<<8 | uint16(sec[i+1]); prog != 0 {
			out = append(out, patEntry{program: prog, pmtPID: uint16(sec[i+2]&0x1F)<<8 | uint16(sec[i+3]), off: i})
		}
	}
	return out
}

// esEntry is one elementary stream of a PMT; off is the offset of its
// stream_type byte in the section.
type esEntry struct {
	typ byte
	pid uint16
	off int
}

// pmtStreams returns the elementary streams of a PMT section.
func pmtStreams(sec []byte) []esEntry {
	if sec[0] != 0x02 {
		return nil
	}
	var out []esEntry
	i := 12 + int(sec[10]&0x0F)<<8 + int(sec[11])
	for i+5 <= len(sec)-4 {
		out = append(out, esEntry{typ: sec[i], pid: uint16(sec[i+1]&0x1F)<<8 | uint16(sec[i+2]), off: i})
		i += 5 + int(sec[i+3]&0x0F)<<8 + int(sec[i+4])
	}
	return out
}

// isAudio reports whether a PMT stream_type is a common audio type: MPEG-1/2
// audio, AAC (ADTS and LATM), AC-3 and E-AC-3 (ATSC).
func isAudio(t byte) bool {
	switch t {
	case 0x03, 0x04, 0x0F, 0x11, 0x81, 0x87:
		return true
	}
	return false
}

// editSection calls f on the PSI section with the given table_id that
// starts in p, and recomputes its CRC when f reports a change. It reports
// whether f changed the section (false when p starts no such section, or
// the section does not fit in p).
func editSection(p []byte, tableID byte, f func(sec []byte) bool) bool {
	sec := section(p)
	if sec == nil || sec[0] != tableID || !f(sec) {
		return false
	}
	crc := crc32MPEG(sec[:len(sec)-4])
	sec[len(sec)-4], sec[len(sec)-3], sec[len(sec)-2], sec[len(sec)-1] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return true
}

// bumpVersion adds one (mod 32) to a section's version_number.
func bumpVersion(sec []byte) {
	v := (sec[5]>>1&0x1F + 1) & 0x1F
	sec[5] = sec[5]&0xC1 | v<<1
}

// put13 writes a 13-bit PID into b[0:2], keeping the 3 reserved bits.
func put13(b []byte, v uint16) {
	b[0] = b[0]&0xE0 | byte(v>>8)&0x1F
	b[1] = byte(v)
}

// rewritePMT changes oldPID to newPID in the PMT section starting in p,
// bumps its version_number and recomputes its CRC. It reports whether the
// section named oldPID.
func rewritePMT(p []byte, oldPID, newPID uint16) bool {
	return editSection(p, 0x02, func(sec []byte) bool {
		found := false
		for _, es := range pmtStreams(sec) {
			if es.pid == oldPID {
				put13(sec[es.off+1:], newPID)
				found = true
			}
		}
		if found {
			bumpVersion(sec)
		}
		return found
	})
}

// crc32MPEG is the CRC-32/MPEG-2 of PSI sections: polynomial 0x04C11DB7,
// initial value all ones, no reflection, no final XOR.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// timestamp decodes a 5-byte PES PTS or DTS field.
func timestamp(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// putTimestamp encodes v into a 5-byte PTS or DTS field, keeping its
// 4-bit prefix.
func putTimestamp(b []byte, v int64) {
	b[0] = b[0]&0xF0 | byte(v>>30&7)<<1 | 1
	b[1] = byte(v >> 22)
	b[2] = byte(v>>15)<<1 | 1
	b[3] = byte(v >> 7)
	b[4] = byte(v)<<1 | 1
}

// addMod adds delta to a 33-bit timestamp, wrapping.
func addMod(v, delta int64) int64 {
	return ((v+delta)%ptsModulus + ptsModulus) % ptsModulus
}
