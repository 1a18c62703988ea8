package source

import (
	"bytes"
	"math/bits"
	"time"
)

// Transport stream constants (ISO/IEC 13818-1).
const (
	packetSize = 188
	syncByte   = 0x47
	// clockHz is the PCR clock; PTS and DTS run at clockHz/300 (90 kHz) and
	// are scaled to it here.
	clockHz = 27_000_000
	// clockWrap is where a PCR (and a scaled PTS) wraps: 2^33 × 300.
	clockWrap = (1 << 33) * 300
	// maxStep is the largest forward step of the stream clock taken as it
	// is; a longer one, or any step back, re-anchors the pacing.
	maxStep = clockHz // 1 s
	// maxLate re-anchors the pacing on the wall clock when the reader falls
	// this far behind, instead of bursting to catch up.
	maxLate = time.Second
	// lostStampPackets is how many packets may pass without a stamp on the
	// followed PID before another PID's stamps are followed instead.
	lostStampPackets = 5000
)

// packetTime is what one TS packet says about time.
type packetTime struct {
	pid uint16
	// pcr is the program_clock_reference in 27 MHz ticks.
	pcr    uint64
	hasPCR bool
	// disc is the adaptation field's discontinuity_indicator.
	disc bool
	// pes is the DTS, else the PTS, of a PES that starts in this packet, in
	// 27 MHz ticks.
	pes    uint64
	hasPES bool
}

// parsePacketTime reads the PCR and the PES timestamp of a TS packet. It
// reports false for anything that is not a sound packet: short, no sync
// byte, transport_error_indicator set, or an adaptation field that overruns
// the packet.
func parsePacketTime(pkt []byte) (packetTime, bool) {
	var t packetTime
	if len(pkt) < packetSize || pkt[0] != syncByte || pkt[1]&0x80 != 0 {
		return t, false
	}
	t.pid = uint16(pkt[1]&0x1F)<<8 | uint16(pkt[2])
	afc := pkt[3] >> 4 & 3
	if afc == 0 {
		return t, false // reserved
	}
	payload := 4
	if afc&2 != 0 {
		afLen := int(pkt[4])
		if 5+afLen > packetSize {
			return t, false
		}
		payload = 5 + afLen
		if afLen > 0 {
			flags := pkt[5]
			t.disc = flags&0x80 != 0
			if flags&0x10 != 0 && afLen >= 7 {
				p := pkt[6:12]
				base := uint64(p[0])<<25 | uint64(p[1])<<17 | uint64(p[2])<<9 | uint64(p[3])<<1 | uint64(p[4])>>7
				ext := uint64(p[4]&1)<<8 | uint64(p[5])
				// ext counts 0..299; larger values are invalid but still
				// keep the result below the wrap.
				t.pcr, t.hasPCR = (base*300+ext%300)%clockWrap, true
			}
		}
	}
	if afc&1 != 0 && pkt[1]&0x40 != 0 {
		t.pes, t.hasPES = parsePESTime(pkt[payload:packetSize])
	}
	return t, true
}

// parsePESTime returns the DTS, else the PTS, of the PES header at the start
// of b, in 27 MHz ticks.
func parsePESTime(b []byte) (uint64, bool) {
	if len(b) < 14 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return 0, false
	}
	switch b[3] { // stream_id values without the optional header
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF:
		return 0, false
	}
	if b[6]&0xC0 != 0x80 {
		return 0, false
	}
	flags, hdrLen := b[7]>>6, int(b[8])
	switch {
	case flags == 3 && hdrLen >= 10 && len(b) >= 19:
		if v, ok := readTimestamp(b[14:19]); ok {
			return v * 300, true
		}
	case flags == 2 && hdrLen >= 5 || flags == 3 && hdrLen >= 5:
	default:
		return 0, false
	}
	v, ok := readTimestamp(b[9:14])
	return v * 300, ok
}

// readTimestamp decodes a 33-bit PTS or DTS with its marker bits.
func readTimestamp(b []byte) (uint64, bool) {
	if b[0]&1 == 0 || b[2]&1 == 0 || b[4]&1 == 0 {
		return 0, false
	}
	return uint64(b[0]>>1&7)<<30 | uint64(b[1])<<22 | uint64(b[2]>>1)<<15 | uint64(b[3])<<7 | uint64(b[4]>>1), true
}

// nextUnit splits the next unit off b: a packet (returned as its 188 bytes;
// n is its stride, 188, 192 or 204, when the next sync byte confirms it) or
// the bytes up to the next sync byte (pkt nil). atEnd says that b holds all
// the input that is left.
func nextUnit(b []byte, atEnd bool) (n int, pkt []byte) {
	if len(b) == 0 {
		return 0, nil
	}
	if b[0] == syncByte {
		for _, stride := range [...]int{packetSize, 192, 204} {
			if len(b) > stride && b[stride] == syncByte {
				return stride, b[:packetSize]
			}
		}
		if atEnd && len(b) >= packetSize && len(b) < packetSize+packetSize {
			return packetSize, b[:packetSize]
		}
	}
	i := bytes.IndexByte(b[1:], syncByte)
	if i < 0 {
		return len(b), nil
	}
	return i + 1, nil
}

// clockSource is what a realtime file is paced by.
type clockSource int

const (
	byPCR clockSource = iota
	byPES
	byBitrate
)

func (c clockSource) String() string {
	return [...]string{"PCR", "PTS", "nominal bitrate"}[c]
}

// detectClock picks the clock of a file from its first bytes: the PCR when
// any packet carries one, else PES timestamps, else the nominal bitrate.
func detectClock(b []byte, atEnd bool) clockSource {
	found := byBitrate
	for len(b) > 0 {
		n, pkt := nextUnit(b, atEnd)
		b = b[n:]
		if pkt == nil {
			continue
		}
		t, ok := parsePacketTime(pkt)
		switch {
		case ok && t.hasPCR:
			return byPCR
		case ok && t.hasPES:
			found = byPES
		}
	}
	return found
}

// pacer turns the stream clock of the packets into wall-clock deadlines.
// The first stamp anchors the stream clock to the wall clock; later stamps
// are unwrapped and measured from the anchor. A step back, a step forward
// of more than maxStep, a discontinuity_indicator, a change of the followed
// PID or a loop of the file re-anchors: the stamp is then placed one
// ordinary stamp interval after the previous one, so the pace goes on
// without a jump or a pause. Deadlines never go back.
type pacer struct {
	src clockSource
	// pid is the PID whose stamps are followed (-1 until the first).
	pid int
	// quiet counts the packets since the followed PID's last stamp.
	quiet int

	anchored  bool
	reanchor  bool
	anchorExt int64 // unwrapped stamp at the anchor
	anchorAt  time.Time
	last      uint64 // last raw stamp
	lastExt   int64  // last unwrapped stamp
	lastAt    time.Time
	step      int64 // last ordinary interval between stamps, ticks

	// Byte pacing: bitrate in bits/s, a stamp every quantum bytes.
	bitrate  uint64
	quantum  int
	sinceQ   int
	position uint64 // bytes since the start of this pass over the file
}

func newPacer(src clockSource, bitrate int64) *pacer {
	p := &pacer{src: src, pid: -1, bitrate: uint64(bitrate)}
	p.quantum = max(int(bitrate/800), packetSize) // about 10 ms
	return p
}

// stamp returns the stream clock of a unit when it is a timing point of
// the followed clock, without changing the pacer. n is the unit's length
// and pkt its packet (nil for bytes between packets).
func (p *pacer) stamp(n int, pkt []byte) (ts uint64, disc, ok bool) {
	if p.src == byBitrate {
		if p.sinceQ+n < p.quantum && p.position != 0 {
			return 0, false, false
		}
		hi, lo := bits.Mul64(p.position, 8*clockHz)
		q, _ := bits.Div64(hi%p.bitrate, lo, p.bitrate)
		return q % clockWrap, false, true
	}
	if pkt == nil {
		return 0, false, false
	}
	t, good := parsePacketTime(pkt)
	if !good {
		return 0, false, false
	}
	has, v := t.hasPCR, t.pcr
	if p.src == byPES {
		has, v = t.hasPES, t.pes
	}
	if !has || p.pid >= 0 && int(t.pid) != p.pid && p.quiet < lostStampPackets {
		return 0, false, false
	}
	return v, t.disc || p.pid >= 0 && int(t.pid) != p.pid, true
}

// advance records a unit that is not a timing point.
func (p *pacer) advance(n int, pkt []byte) {
	p.position += uint64(n)
	p.sinceQ += n
	if pkt != nil {
		p.quiet++
	}
}

// at records the timing point stamp returned for this unit and returns the
// deadline of the unit. now is the current wall-clock time.
func (p *pacer) at(n int, pkt []byte, ts uint64, disc bool, now time.Time) time.Time {
	if p.src != byBitrate && pkt != nil {
		p.pid = int(pkt[1]&0x1F)<<8 | int(pkt[2])
	}
	p.position += uint64(n)
	p.sinceQ, p.quiet = 0, 0
	if !p.anchored {
		p.anchored = true
		p.anchorAt, p.lastAt, p.anchorExt, p.lastExt, p.last = now, now, 0, 0, ts
		return now
	}
	delta := int64((ts + clockWrap - p.last) % clockWrap)
	if delta > clockWrap/2 {
		delta -= clockWrap
	}
	p.last = ts
	if disc || p.reanchor || delta < 0 || delta > maxStep {
		p.reanchor = false
		p.lastExt += p.step
		p.anchorExt, p.anchorAt = p.lastExt, p.lastAt.Add(ticksToDuration(p.step))
		p.lastAt = p.anchorAt
		return p.lastAt
	}
	if delta > 0 {
		p.step = delta
	}
	p.lastExt += delta
	at := p.anchorAt.Add(ticksToDuration(p.lastExt - p.anchorExt))
	if now.Sub(at) > maxLate {
		p.anchorExt, p.anchorAt, at = p.lastExt, now, now
	}
	p.lastAt = at
	return at
}

// restart prepares for the file starting again: the next timing point is
// placed one interval after the last.
func (p *pacer) restart() {
	p.reanchor = p.anchored
	p.position, p.sinceQ = 0, 0
}

// ticksToDuration converts 27 MHz ticks to a Duration without overflow for
// any span the int64 tick count can hold.
func ticksToDuration(t int64) time.Duration {
	return time.Duration(t/clockHz)*time.Second + time.Duration(t%clockHz*1000/27)
}
