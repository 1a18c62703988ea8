package source

import (
	"bytes"
	"testing"
	"time"
)

func TestParsePacketTime(t *testing.T) {
	withPES := func(p pkt, payload []byte) pkt { p.pusi, p.payload = true, payload; return p }
	badAF := tsPacket(filler(), 0)
	badAF[3], badAF[4] = 0x30, 184 // adaptation field longer than the packet
	reserved := tsPacket(filler(), 0)
	reserved[3] &= 0xCF
	cases := []struct {
		name string
		in   []byte
		want packetTime
		ok   bool
	}{
		{"pcr", tsPacket(pcrAt(123_456_789), 0), packetTime{pid: 0x101, pcr: 123_456_789, hasPCR: true}, true},
		{"pcr max", tsPacket(pcrAt(clockWrap-1), 0), packetTime{pid: 0x101, pcr: clockWrap - 1, hasPCR: true}, true},
		{"pcr and discontinuity", tsPacket(pkt{pid: 0x1FFE, pcr: 300, disc: true}, 0), packetTime{pid: 0x1FFE, pcr: 300, hasPCR: true, disc: true}, true},
		{"no timing", tsPacket(filler(), 0), packetTime{pid: 0x100}, true},
		{"pts", tsPacket(withPES(pkt{pid: 0x44, pcr: -1}, pesStart(0xC0, 1<<33-1, -1)), 0), packetTime{pid: 0x44, pes: (1<<33 - 1) * 300, hasPES: true}, true},
		{"dts preferred", tsPacket(withPES(pkt{pid: 0x44, pcr: -1}, pesStart(0xE0, 9000, 6000)), 0), packetTime{pid: 0x44, pes: 6000 * 300, hasPES: true}, true},
		{"pcr and pts", tsPacket(withPES(pkt{pid: 0x44, pcr: 27_000}, pesStart(0xC0, 90, -1)), 0), packetTime{pid: 0x44, pcr: 27_000, hasPCR: true, pes: 90 * 300, hasPES: true}, true},
		{"pes without pusi", tsPacket(pkt{pid: 0x44, pcr: -1, payload: pesStart(0xC0, 90, -1)}, 0), packetTime{pid: 0x44}, true},
		{"padding stream", tsPacket(withPES(pkt{pid: 0x44, pcr: -1}, pesStart(0xBE, 90, -1)), 0), packetTime{pid: 0x44}, true},
		{"transport error", tsPacket(pkt{pid: 0x101, pcr: 27_000, tei: true}, 0), packetTime{}, false},
		{"adaptation field overruns", badAF, packetTime{pid: 0x100}, false},
		{"reserved adaptation_field_control", reserved, packetTime{pid: 0x100}, false},
		{"no sync", make([]byte, packetSize), packetTime{}, false},
		{"short", []byte{syncByte, 0, 0, 0x10}, packetTime{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parsePacketTime(c.in)
			if ok != c.ok || got != c.want {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestParsePESTime(t *testing.T) {
	badMarker := pesStart(0xC0, 90, -1)
	badMarker[13] &^= 1
	badDTS := pesStart(0xE0, 9000, 6000)
	badDTS[18] &^= 1
	cases := []struct {
		name string
		in   []byte
		want uint64
		ok   bool
	}{
		{"pts", pesStart(0xC0, 0x1_2345_6789, -1), 0x1_2345_6789 * 300, true},
		{"dts", pesStart(0xE0, 10, 5), 5 * 300, true},
		{"bad dts marker falls back to pts", badDTS, 9000 * 300, true},
		{"bad pts marker", badMarker, 0, false},
		{"no timestamps", []byte{0, 0, 1, 0xC0, 0, 0, 0x80, 0x00, 0, 0, 0, 0, 0, 0}, 0, false},
		{"not mpeg2 header", []byte{0, 0, 1, 0xC0, 0, 0, 0x40, 0x80, 5, 0x21, 0, 1, 0, 1}, 0, false},
		{"start code", append([]byte{0, 0, 2}, pesStart(0xC0, 1, -1)[3:]...), 0, false},
		{"short", pesStart(0xC0, 1, -1)[:13], 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parsePESTime(c.in)
			if ok != c.ok || got != c.want {
				t.Fatalf("got %d %v, want %d %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestNextUnit(t *testing.T) {
	two := buildTS(filler(), filler())
	m2ts := append(append(append([]byte{}, two[:188]...), 1, 2, 3, 4), two[188:]...)
	cases := []struct {
		name    string
		in      []byte
		atEnd   bool
		wantN   int
		wantPkt bool
	}{
		{"188", two, false, 188, true},
		{"192", m2ts, false, 192, true},
		{"last packet", two[188:], true, 188, true},
		{"last packet, more may come", two[188:], false, 188, false},
		{"junk to next sync", append([]byte{1, 2, 3}, two...), false, 3, false},
		{"junk to the end", []byte{1, 2, 3}, true, 3, false},
		{"sync without a packet", append([]byte{syncByte, 9}, two...), false, 2, false},
		{"empty", nil, true, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, p := nextUnit(c.in, c.atEnd)
			if n != c.wantN || (p != nil) != c.wantPkt {
				t.Fatalf("got n=%d pkt=%v, want n=%d pkt=%v", n, p != nil, c.wantN, c.wantPkt)
			}
			if p != nil && !bytes.Equal(p, c.in[:packetSize]) {
				t.Fatal("packet is not the unit's first 188 bytes")
			}
		})
	}
}

func TestDetectClock(t *testing.T) {
	pes := pkt{pid: 0x44, pcr: -1, pusi: true, payload: pesStart(0xC0, 90, -1)}
	cases := []struct {
		name string
		in   []byte
		want clockSource
	}{
		{"pcr", buildTS(filler(), pes, pcrAt(5)), byPCR},
		{"pes only", buildTS(filler(), pes, filler()), byPES},
		{"nothing", buildTS(filler(), filler()), byBitrate},
		{"not ts", []byte("hello"), byBitrate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := detectClock(c.in, true); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// paceAll runs stamps (27 MHz, with discontinuity flags) through a PCR pacer
// on a fake clock that is always on time and returns the deadlines as
// offsets from the first.
func paceAll(stamps []int64, disc map[int]bool) []time.Duration {
	p := newPacer(byPCR, DefaultNominalBitrate)
	var out []time.Duration
	var first time.Time
	now := epoch
	for i, s := range stamps {
		pk := tsPacket(pkt{pid: 0x101, pcr: s, disc: disc[i]}, 0)
		ts, d, ok := p.stamp(packetSize, pk)
		if !ok {
			panic("not a stamp")
		}
		at := p.at(packetSize, pk, ts, d, now)
		if i == 0 {
			first = at
		}
		if at.After(now) {
			now = at
		}
		out = append(out, at.Sub(first))
	}
	return out
}

func TestPacer(t *testing.T) {
	const ms = clockHz / 1000
	cases := []struct {
		name   string
		stamps []int64
		disc   map[int]bool
		want   []time.Duration
	}{
		{"steady", []int64{0, 40 * ms, 80 * ms, 120 * ms}, nil, []time.Duration{0, 40e6, 80e6, 120e6}},
		{"33-bit wrap", []int64{clockWrap - 40*ms, 0, 40 * ms}, nil, []time.Duration{0, 40e6, 80e6}},
		{"jump forward re-anchors", []int64{0, 40 * ms, 3600 * clockHz, 3600*clockHz + 20*ms}, nil, []time.Duration{0, 40e6, 80e6, 100e6}},
		{"one second is not a jump", []int64{0, clockHz, 2 * clockHz}, nil, []time.Duration{0, time.Second, 2 * time.Second}},
		{"step back re-anchors", []int64{0, 40 * ms, 80 * ms, 10 * ms, 50 * ms}, nil, []time.Duration{0, 40e6, 80e6, 120e6, 160e6}},
		{"discontinuity flag re-anchors", []int64{0, 40 * ms, 900 * ms, 920 * ms}, map[int]bool{2: true}, []time.Duration{0, 40e6, 80e6, 100e6}},
		{"repeated stamp", []int64{0, 0, 40 * ms}, nil, []time.Duration{0, 0, 40e6}},
		{"sub-tick precision", []int64{0, 1, 27}, nil, []time.Duration{0, 37, 1000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := paceAll(c.stamps, c.disc)
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("deadlines %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestPacerLate(t *testing.T) {
	p := newPacer(byPCR, DefaultNominalBitrate)
	stamp := func(v int64, now time.Time) time.Time {
		pk := tsPacket(pcrAt(v), 0)
		ts, d, _ := p.stamp(packetSize, pk)
		return p.at(packetSize, pk, ts, d, now)
	}
	stamp(0, epoch)
	if at := stamp(clockHz/2, epoch.Add(time.Second)); !at.Equal(epoch.Add(time.Second / 2)) {
		t.Fatalf("half a second late: deadline %v, want the stream time", at.Sub(epoch))
	}
	// Three seconds late: the pacer re-anchors on now instead of bursting.
	late := epoch.Add(4 * time.Second)
	if at := stamp(clockHz*6/10, late); !at.Equal(late) {
		t.Fatalf("far behind: deadline %v, want now", at.Sub(epoch))
	}
	if at := stamp(clockHz*7/10, late); !at.Equal(late.Add(100 * time.Millisecond)) {
		t.Fatalf("after re-anchoring: deadline %v, want now+100ms", at.Sub(late))
	}
}

func TestPacerFollowsOnePID(t *testing.T) {
	p := newPacer(byPCR, DefaultNominalBitrate)
	other := tsPacket(pkt{pid: 0x200, pcr: 5 * clockHz}, 0)
	first := tsPacket(pcrAt(0), 0)
	ts, d, _ := p.stamp(packetSize, first)
	p.at(packetSize, first, ts, d, epoch)
	if _, _, ok := p.stamp(packetSize, other); ok {
		t.Fatal("a PCR on another PID was taken while the followed PID is alive")
	}
	for range lostStampPackets {
		p.advance(packetSize, tsPacket(filler(), 0))
	}
	ts, d, ok := p.stamp(packetSize, other)
	if !ok || !d {
		t.Fatalf("after the followed PID went quiet: stamp ok=%v disc=%v, want a re-anchoring stamp", ok, d)
	}
	p.at(packetSize, other, ts, d, epoch)
	if p.pid != 0x200 {
		t.Fatalf("following PID %#x, want 0x200", p.pid)
	}
}

func TestStripRTP(t *testing.T) {
	ts := buildTS(filler())
	rtp := func(b0 byte, pt byte, extra []byte, tail []byte) []byte {
		h := []byte{b0, pt, 0x12, 0x34, 0, 0, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE}
		return append(append(append(h, extra...), ts...), tail...)
	}
	cases := []struct {
		name  string
		in    []byte
		want  []byte
		isRTP bool
	}{
		{"plain", rtp(0x80, 33, nil, nil), ts, true},
		{"marker bit", rtp(0x80, 0x80|33, nil, nil), ts, true},
		{"two CSRC", rtp(0x82, 33, make([]byte, 8), nil), ts, true},
		{"extension", rtp(0x90, 33, []byte{0xBE, 0xDE, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8}, nil), ts, true},
		{"padding", rtp(0xA0, 33, nil, []byte{0, 0, 3}), ts, true},
		{"raw TS", ts, ts, false},
		{"other payload type", rtp(0x80, 96, nil, nil), rtp(0x80, 96, nil, nil), false},
		{"version 1", rtp(0x40, 33, nil, nil), rtp(0x40, 33, nil, nil), false},
		{"extension past the end", rtp(0x90, 33, []byte{0xBE, 0xDE, 0xFF, 0xFF}, nil), rtp(0x90, 33, []byte{0xBE, 0xDE, 0xFF, 0xFF}, nil), false},
		{"padding past the start", rtp(0xA0, 33, nil, []byte{0xFF}), rtp(0xA0, 33, nil, []byte{0xFF}), false},
		{"header only", rtp(0x80, 33, nil, nil)[:12], []byte{}, true},
		{"short", []byte{0x80, 33, 0}, []byte{0x80, 33, 0}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, isRTP := stripRTP(c.in)
			if isRTP != c.isRTP || !bytes.Equal(got, c.want) {
				t.Fatalf("got %d bytes rtp=%v, want %d bytes rtp=%v", len(got), isRTP, len(c.want), c.isRTP)
			}
		})
	}
}
