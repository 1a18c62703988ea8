package mpegts

import (
	"bytes"
	"encoding/binary"
)

// tsBuilder writes synthetic transport streams for tests, with full control
// over counters, flags, tables and timestamps.
type tsBuilder struct {
	buf bytes.Buffer
	cc  map[uint16]uint8
}

func newTSBuilder() *tsBuilder { return &tsBuilder{cc: make(map[uint16]uint8)} }

func (b *tsBuilder) bytes() []byte { return b.buf.Bytes() }

// pktOpts are per-packet knobs.
type pktOpts struct {
	disc bool  // discontinuity_indicator
	pcr  int64 // PCR base; < 0 for none
	tsc  uint8
	tei  bool
}

var noPkt = pktOpts{pcr: -1}

// packet writes one packet carrying as much of payload as fits, and returns
// the number of payload bytes written. Stuffing goes into the adaptation
// field.
func (b *tsBuilder) packet(pid uint16, pusi bool, o pktOpts, payload []byte) int {
	hasAF := o.disc || o.pcr >= 0
	var af []byte // adaptation field after its length byte
	if hasAF {
		flags := byte(0)
		if o.disc {
			flags |= 0x80
		}
		if o.pcr >= 0 {
			flags |= 0x10
		}
		af = append(af, flags)
		if o.pcr >= 0 {
			base := uint64(o.pcr) & (1<<33 - 1)
			af = append(af, byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1), byte(base<<7)|0x7E, 0)
		}
	}
	room := PacketSize - 4
	if hasAF {
		room -= 1 + len(af)
	}
	n := min(len(payload), room)
	if n < room {
		if !hasAF {
			hasAF = true
			if PacketSize-4-1-n > 0 {
				af = append(af, 0x00)
			}
		}
		for 4+1+len(af)+n < PacketSize {
			af = append(af, 0xFF)
		}
	}
	afc := byte(0)
	if n > 0 {
		afc |= 0x10
	}
	if hasAF {
		afc |= 0x20
	}
	cc := b.cc[pid]
	if afc&0x10 != 0 {
		b.cc[pid] = (cc + 1) & 0x0F
	} else {
		cc = (cc - 1) & 0x0F // packets without payload repeat the previous counter
	}
	p := make([]byte, 4, PacketSize)
	p[0] = syncByte
	p[1] = byte(pid>>8) & 0x1F
	if pusi {
		p[1] |= 0x40
	}
	if o.tei {
		p[1] |= 0x80
	}
	p[2] = byte(pid)
	p[3] = o.tsc<<6 | afc | cc
	if hasAF {
		p = append(p, byte(len(af)))
		p = append(p, af...)
	}
	p = append(p, payload[:n]...)
	if len(p) != PacketSize {
		panic("tsBuilder: bad packet size")
	}
	b.buf.Write(p)
	return n
}

// section writes a PSI section with pointer_field 0, split over packets.
func (b *tsBuilder) section(pid uint16, sec []byte) {
	payload := append([]byte{0}, sec...)
	first := true
	for len(payload) > 0 || first {
		n := b.packet(pid, first, noPkt, payload)
		payload = payload[n:]
		first = false
	}
}

// pes writes a PES packet. pts < 0 writes none. unbounded writes
// PES_packet_length 0. The first packet may carry a PCR and flags.
func (b *tsBuilder) pes(pid uint16, sid byte, pts int64, data []byte, first pktOpts, unbounded bool) {
	b.packetize(pid, first, pesBytes(sid, pts, data, unbounded))
}

func (b *tsBuilder) packetize(pid uint16, first pktOpts, pes []byte) {
	o := first
	start := true
	for len(pes) > 0 {
		n := b.packet(pid, start, o, pes)
		pes = pes[n:]
		start = false
		o = pktOpts{pcr: -1, tsc: first.tsc}
	}
}

func pesBytes(sid byte, pts int64, data []byte, unbounded bool) []byte {
	hdr := []byte{0, 0, 1, sid, 0, 0, 0x80, 0x00, 0x00}
	if pts >= 0 {
		hdr[7] = 0x80
		hdr[8] = 5
		hdr = append(hdr, encodeTimestamp(0x2, uint64(pts))...)
	}
	out := append(hdr, data...)
	if !unbounded {
		binary.BigEndian.PutUint16(out[4:], uint16(len(out)-6))
	}
	return out
}

func encodeTimestamp(prefix byte, ts uint64) []byte {
	ts &= 1<<33 - 1
	return []byte{
		prefix<<4 | byte(ts>>29)&0x0E | 1,
		byte(ts >> 22),
		byte(ts>>14) | 1,
		byte(ts >> 7),
		byte(ts<<1) | 1,
	}
}

// patSection builds a PAT with (program_number, PMT PID) pairs.
func patSection(version uint8, progs ...[2]uint16) []byte {
	var body []byte
	for _, p := range progs {
		body = binary.BigEndian.AppendUint16(body, p[0])
		body = binary.BigEndian.AppendUint16(body, 0xE000|p[1])
	}
	return psiSection(0x00, 1, version, body)
}

// testES is one PMT entry.
type testES struct {
	pid  uint16
	st   uint8
	desc []byte
}

// pmtSection builds a PMT.
func pmtSection(program uint16, version uint8, pcrPID uint16, streams ...testES) []byte {
	body := binary.BigEndian.AppendUint16(nil, 0xE000|pcrPID)
	body = append(body, 0xF0, 0x00)
	for _, es := range streams {
		body = append(body, es.st)
		body = binary.BigEndian.AppendUint16(body, 0xE000|es.pid)
		body = binary.BigEndian.AppendUint16(body, 0xF000|uint16(len(es.desc)))
		body = append(body, es.desc...)
	}
	return psiSection(0x02, program, version, body)
}

func psiSection(tableID uint8, ext uint16, version uint8, body []byte) []byte {
	n := 5 + len(body) + 4
	sec := []byte{tableID, 0xB0 | byte(n>>8)&0x0F, byte(n)}
	sec = binary.BigEndian.AppendUint16(sec, ext)
	sec = append(sec, 0xC1|(version&0x1F)<<1, 0, 0)
	sec = append(sec, body...)
	return binary.BigEndian.AppendUint32(sec, crc32MPEG2(sec))
}

// crc32MPEG2 is CRC-32/MPEG-2: polynomial 0x04C11DB7, init 0xFFFFFFFF, no
// reflection, no final XOR.
func crc32MPEG2(b []byte) uint32 {
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

// Descriptor helpers.
func langDesc(lang string, audioType byte) []byte {
	return []byte{tagISO639, 4, lang[0], lang[1], lang[2], audioType}
}

func regDesc(id string) []byte { return append([]byte{tagRegistration, 4}, id...) }

// simpleStream is a single-program stream description used by many tests:
// program 1, PMT PID 0x1000, PCR and audio on PID 0x100.
const (
	testPMTPID   = 0x1000
	testAudioPID = 0x100
	testVideoPID = 0x101
)

// audioFrame is recognisable PES payload: a counter in every byte.
func audioFrame(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i + j)
	}
	return b
}

// buildSimple writes tables and count audio PES of size bytes, 100 ms
// apart, starting at pts0. The tables repeat every 5 PES; each PES carries
// a PCR. hook may alter each PES before it is written (return false to skip
// it).
func buildSimple(count, size int, pts0 int64, st uint8, desc []byte, hook func(i int, b *tsBuilder, pts *int64, o *pktOpts) bool) []byte {
	b := newTSBuilder()
	pts := pts0
	for i := range count {
		if i%5 == 0 {
			b.section(pidPAT, patSection(0, [2]uint16{1, testPMTPID}))
			b.section(testPMTPID, pmtSection(1, 0, testAudioPID, testES{pid: testAudioPID, st: st, desc: desc}))
		}
		o := pktOpts{pcr: pts - 9000}
		p := pts
		if hook == nil || hook(i, b, &p, &o) {
			b.pes(testAudioPID, 0xC0, p, audioFrame(i, size), o, false)
		}
		pts += 9000
	}
	return b.bytes()
}
