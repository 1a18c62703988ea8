package tsmux

import (
	"errors"
	"fmt"
)

// PSI errors.
var (
	// ErrSection: a PSI section is malformed (length, syntax or CRC).
	ErrSection = errors.New("tsmux: malformed PSI section")
	// ErrPMTTooLarge: the PMT has no room for the teletext entry (a section
	// holds at most 1021 bytes after section_length).
	ErrPMTTooLarge = errors.New("tsmux: PMT too large for the teletext entry")
)

const (
	maxPSISection = 1024 // 3 + 1021
	tsSize        = 188
	nullPID       = 0x1FFF
)

var crcTable [256]uint32

func init() {
	for i := range crcTable {
		c := uint32(i) << 24
		for k := 0; k < 8; k++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		crcTable[i] = c
	}
}

// crc32MPEG computes CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no
// reflection, no final XOR). Over a whole section including its CRC it is 0.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, v := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^v]
	}
	return crc
}

// checkSection validates a long-form section's length, syntax bit and CRC.
func checkSection(s []byte) error {
	if len(s) < 12 {
		return fmt.Errorf("%w: %d bytes", ErrSection, len(s))
	}
	if s[1]&0x80 == 0 {
		return fmt.Errorf("%w: section_syntax_indicator is 0", ErrSection)
	}
	if l := int(s[1]&0x0F)<<8 | int(s[2]); l+3 != len(s) {
		return fmt.Errorf("%w: section_length %d for %d bytes", ErrSection, l, len(s))
	}
	if crc32MPEG(s) != 0 {
		return fmt.Errorf("%w: CRC mismatch", ErrSection)
	}
	return nil
}

// patEntry is one program of a PAT.
type patEntry struct{ program, pid uint16 }

// parsePAT returns the programs of a valid PAT section (network PIDs, with
// program_number 0, are left out).
func parsePAT(s []byte) ([]patEntry, error) {
	if err := checkSection(s); err != nil {
		return nil, err
	}
	if s[0] != 0x00 {
		return nil, fmt.Errorf("%w: table_id %#02x in PAT", ErrSection, s[0])
	}
	var out []patEntry
	for o := 8; o+4 <= len(s)-4; o += 4 {
		prog := uint16(s[o])<<8 | uint16(s[o+1])
		pid := uint16(s[o+2]&0x1F)<<8 | uint16(s[o+3])
		if prog != 0 {
			out = append(out, patEntry{prog, pid})
		}
	}
	return out, nil
}

// esEntry is one elementary stream of a PMT.
type esEntry struct {
	streamType uint8
	pid        uint16
}

// pmtInfo is the part of a PMT the mux needs.
type pmtInfo struct {
	program     uint16
	version     uint8
	currentNext bool
	pcrPID      uint16
	streams     []esEntry
}

// parsePMT parses a valid PMT section.
func parsePMT(s []byte) (pmtInfo, error) {
	var p pmtInfo
	if err := checkSection(s); err != nil {
		return p, err
	}
	if s[0] != 0x02 {
		return p, fmt.Errorf("%w: table_id %#02x in PMT", ErrSection, s[0])
	}
	p.program = uint16(s[3])<<8 | uint16(s[4])
	p.version = s[5] >> 1 & 0x1F
	p.currentNext = s[5]&1 == 1
	p.pcrPID = uint16(s[8]&0x1F)<<8 | uint16(s[9])
	end := len(s) - 4
	o := 12 + (int(s[10]&0x0F)<<8 | int(s[11]))
	if o > end {
		return p, fmt.Errorf("%w: program_info_length past the section", ErrSection)
	}
	for o < end {
		if o+5 > end {
			return p, fmt.Errorf("%w: truncated ES entry", ErrSection)
		}
		e := esEntry{streamType: s[o], pid: uint16(s[o+1]&0x1F)<<8 | uint16(s[o+2])}
		n := int(s[o+3]&0x0F)<<8 | int(s[o+4])
		o += 5 + n
		if o > end {
			return p, fmt.Errorf("%w: ES_info_length past the section", ErrSection)
		}
		p.streams = append(p.streams, e)
	}
	return p, nil
}

// teletextDescriptor builds the teletext_descriptor (EN 300 468 §6.2.43)
// for one page.
func teletextDescriptor(lang string, ttxType byte, magazine int, page byte) []byte {
	l := []byte(lang + "   ")[:3]
	return []byte{0x56, 5, l[0], l[1], l[2], ttxType<<3 | byte(magazine&7), page}
}

// rewritePMT returns a copy of the valid PMT section s with an ES entry for
// the teletext PID appended (stream_type 0x06 and the descriptor), the
// version set to version, and section_length and CRC recomputed.
func rewritePMT(s []byte, pid uint16, desc []byte, version uint8) ([]byte, error) {
	if err := checkSection(s); err != nil {
		return nil, err
	}
	entry := []byte{0x06, 0xE0 | byte(pid>>8), byte(pid), 0xF0 | byte(len(desc)>>8), byte(len(desc))}
	n := len(s) + len(entry) + len(desc)
	if n > maxPSISection {
		return nil, fmt.Errorf("%w: %d bytes", ErrPMTTooLarge, n)
	}
	out := make([]byte, 0, n)
	out = append(out, s[:len(s)-4]...)
	out = append(out, entry...)
	out = append(out, desc...)
	l := n - 3
	out[1] = out[1]&0xF0 | byte(l>>8)
	out[2] = byte(l)
	out[5] = out[5]&0xC1 | (version&0x1F)<<1
	c := crc32MPEG(out)
	return append(out, byte(c>>24), byte(c>>16), byte(c>>8), byte(c)), nil
}

// sectionAssembler collects the sections of one PID from its packets.
type sectionAssembler struct {
	buf    []byte
	active bool
	lastCC int8 // -1 before the first packet
}

func newSectionAssembler() *sectionAssembler { return &sectionAssembler{lastCC: -1} }

func (a *sectionAssembler) reset() { a.buf, a.active = a.buf[:0], false }

// push feeds the payload of one packet (cc and pusi from its header) and
// calls emit for each complete section.
func (a *sectionAssembler) push(payload []byte, pusi bool, cc uint8, emit func([]byte)) {
	if a.lastCC >= 0 {
		switch {
		case cc == uint8(a.lastCC):
			return // duplicate packet
		case cc != uint8(a.lastCC+1)&0xF:
			a.reset() // lost data
		}
	}
	a.lastCC = int8(cc)
	if pusi {
		if len(payload) == 0 {
			a.reset()
			return
		}
		ptr := int(payload[0])
		payload = payload[1:]
		if ptr > len(payload) {
			a.reset()
			return
		}
		if a.active {
			a.add(payload[:ptr], emit)
		}
		a.reset()
		a.active = true
		a.add(payload[ptr:], emit)
		return
	}
	if a.active {
		a.add(payload, emit)
	}
}

func (a *sectionAssembler) add(b []byte, emit func([]byte)) {
	a.buf = append(a.buf, b...)
	for a.active {
		if len(a.buf) > 0 && a.buf[0] == 0xFF {
			a.reset() // stuffing: no further section in this unit
			return
		}
		if len(a.buf) < 3 {
			return
		}
		need := 3 + (int(a.buf[1]&0x0F)<<8 | int(a.buf[2]))
		if need > maxPSISection+3072 { // private sections may reach 4096
			a.reset()
			return
		}
		if len(a.buf) < need {
			return
		}
		emit(a.buf[:need:need])
		rest := a.buf[need:]
		a.buf = append(make([]byte, 0, max(len(rest), 188)), rest...)
		if len(a.buf) == 0 {
			a.active = false
		}
	}
}

// packetizeSection appends the TS packets carrying section s on pid, with
// continuity counters from *cc (incremented per packet).
func packetizeSection(dst []byte, s []byte, pid uint16, cc *uint8) []byte {
	first := true
	for len(s) > 0 || first {
		var p [tsSize]byte
		p[0] = 0x47
		p[1] = byte(pid>>8) & 0x1F
		p[2] = byte(pid)
		p[3] = 0x10 | *cc&0xF
		*cc = (*cc + 1) & 0xF
		o := 4
		if first {
			p[1] |= 0x40
			p[4] = 0 // pointer_field
			o = 5
			first = false
		}
		n := copy(p[o:], s)
		s = s[n:]
		for i := o + n; i < tsSize; i++ {
			p[i] = 0xFF
		}
		dst = append(dst, p[:]...)
	}
	return dst
}
