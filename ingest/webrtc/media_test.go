package webrtc

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

type mediaRig struct {
	tl       timeline
	counters channelCounters
	chans    [128]uint8
	out      []Packet
}

func (r *mediaRig) proc(session string) *mediaProc {
	return newMediaProc("ch", session, &r.tl, &r.counters, &r.chans, 48000, func(p Packet) { r.out = append(r.out, p) })
}

func rtpPkt(ssrc uint32, seq uint16, ts uint32, payload ...byte) *rtp.Packet {
	if payload == nil {
		payload = []byte{byte(seq)}
	}
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestMediaPTSContinuousAcrossTimestampWrap(t *testing.T) {
	var r mediaRig
	m := r.proc("s1")
	start := uint32(1<<32 - 2*960)
	for i := 0; i < 5; i++ {
		m.handle(rtpPkt(1, uint16(i), start+uint32(i)*960), at(20*i))
	}
	if len(r.out) != 5 {
		t.Fatalf("got %d packets", len(r.out))
	}
	for i, p := range r.out {
		if p.PTS != int64(i)*1800 {
			t.Errorf("packet %d PTS %d, want %d", i, p.PTS, i*1800)
		}
		if p.Discontinuity != (i == 0) {
			t.Errorf("packet %d discontinuity %v", i, p.Discontinuity)
		}
	}
}

func TestMediaSSRCChangeIsDiscontinuity(t *testing.T) {
	var r mediaRig
	m := r.proc("s1")
	for i := 0; i < 3; i++ {
		m.handle(rtpPkt(1, uint16(100+i), uint32(5000+960*i)), at(20*i))
	}
	// New SSRC with unrelated sequence and timestamp, 40 ms later.
	for i := 0; i < 3; i++ {
		m.handle(rtpPkt(2, uint16(9+i), uint32(777+960*i)), at(100+20*i))
	}
	if len(r.out) != 6 {
		t.Fatalf("got %d packets", len(r.out))
	}
	if !r.out[3].Discontinuity || r.out[4].Discontinuity {
		t.Errorf("discontinuity flags after SSRC change: %v %v", r.out[3].Discontinuity, r.out[4].Discontinuity)
	}
	// The new mapping starts at the wall-clock position (100 ms = 9000).
	if r.out[3].PTS != 9000 || r.out[5].PTS != 9000+2*1800 {
		t.Errorf("PTS after SSRC change %d, %d; want 9000, %d", r.out[3].PTS, r.out[5].PTS, 9000+3600)
	}
	if got := r.counters.discont.Load(); got != 2 {
		t.Errorf("discontinuities counted %d, want 2", got)
	}
}

func TestMediaReconnectContinuesForward(t *testing.T) {
	var r mediaRig
	m1 := r.proc("s1")
	for i := 0; i < 10; i++ {
		m1.handle(rtpPkt(1, uint16(i), uint32(960*i)), at(20*i))
	}
	last := r.out[len(r.out)-1].PTS
	// The second session arrives "earlier" on the wall clock than where the
	// first one's media ended (its clock ran fast): PTS still moves forward.
	m2 := r.proc("s2")
	m2.handle(rtpPkt(7, 500, 123456), at(50))
	m2.handle(rtpPkt(7, 501, 123456+960), at(70))
	first := r.out[10]
	if first.Session != "s2" || !first.Discontinuity {
		t.Fatalf("first packet of session 2: %+v", first)
	}
	if first.PTS != last+1800 {
		t.Errorf("session 2 starts at %d, want %d (just after %d)", first.PTS, last+1800, last)
	}
	// A later reconnect starts at its wall-clock offset.
	m3 := r.proc("s3")
	m3.handle(rtpPkt(9, 1, 42), at(60_000))
	if got := r.out[len(r.out)-1].PTS; got != 60*90000 {
		t.Errorf("session 3 starts at %d, want %d", got, 60*90000)
	}
}

func TestMediaTimestampBackwardsAndJump(t *testing.T) {
	var r mediaRig
	m := r.proc("s1")
	m.handle(rtpPkt(1, 0, 96000), at(0))
	m.handle(rtpPkt(1, 1, 96960), at(20))
	m.handle(rtpPkt(1, 2, 10), at(40))             // backwards
	m.handle(rtpPkt(1, 3, 970), at(60))            // continues
	m.handle(rtpPkt(1, 4, 970+48000*3600), at(80)) // an hour ahead of the wall clock
	m.handle(rtpPkt(1, 5, 970+48000*3600+960), at(100))
	wantDisc := []bool{true, false, true, false, true, false}
	for i, p := range r.out {
		if p.Discontinuity != wantDisc[i] {
			t.Errorf("packet %d discontinuity %v, want %v", i, p.Discontinuity, wantDisc[i])
		}
		if i > 0 && p.PTS <= r.out[i-1].PTS {
			t.Errorf("PTS not increasing at %d: %d after %d", i, p.PTS, r.out[i-1].PTS)
		}
	}
	// Silence (DTX): the timestamp advances with the wall clock: no jump.
	m.handle(rtpPkt(1, 6, 970+48000*3600+960+48000*30), at(30_100))
	if p := r.out[len(r.out)-1]; p.Discontinuity || p.PTS-r.out[len(r.out)-2].PTS != 30*90000 {
		t.Errorf("after 30 s DTX: %+v", p)
	}
}

func TestMediaSkipsEmptyPayloadsAndCarriesDiscontinuity(t *testing.T) {
	var r mediaRig
	r.chans[111] = 2
	m := r.proc("s1")
	m.handle(rtpPkt(1, 0, 0), at(0))
	m.handle(rtpPkt(1, 1, 960), at(20))
	m.handle(rtpPkt(1, 2, 1920, []byte{}...), at(40)) // padding only
	m.handle(rtpPkt(1, 3, 2880), at(60))
	// Lose 4, then 5 is empty, then 6..9 arrive: the gap is given up and
	// the discontinuity lands on 6, the first packet with data.
	m.handle(rtpPkt(1, 5, 4800, []byte{}...), at(100))
	for i := 6; i < 10; i++ {
		m.handle(rtpPkt(1, uint16(i), uint32(960*i)), at(20*i))
	}
	var seqs []byte
	for _, p := range r.out {
		seqs = append(seqs, p.Data[0])
		if p.Channels != 2 {
			t.Errorf("channels %d, want 2", p.Channels)
		}
		if p.Discontinuity != (p.Data[0] == 0 || p.Data[0] == 6) {
			t.Errorf("packet %d discontinuity %v", p.Data[0], p.Discontinuity)
		}
	}
	if string(seqs) != string([]byte{0, 1, 3, 6, 7, 8, 9}) {
		t.Errorf("emitted %v", seqs)
	}
	if got := r.counters.lost.Load(); got != 1 {
		t.Errorf("lost %d, want 1", got)
	}
	if got := r.counters.packets.Load(); got != 7 {
		t.Errorf("packets %d, want 7", got)
	}
}

func TestMediaDataIsACopy(t *testing.T) {
	var r mediaRig
	m := r.proc("s1")
	buf := []byte{1, 2, 3}
	m.handle(rtpPkt(1, 0, 0, buf...), at(0))
	buf[0] = 9
	if r.out[0].Data[0] != 1 {
		t.Fatal("Data aliases the read buffer")
	}
}

func TestMediaOnePerPacketAllocation(t *testing.T) {
	var r mediaRig
	m := newMediaProc("ch", "s", &r.tl, &r.counters, &r.chans, 48000, func(Packet) {})
	p := rtpPkt(1, 0, 0, make([]byte, 80)...)
	now := at(0)
	step := func() {
		p.SequenceNumber++
		p.Timestamp += 960
		now = now.Add(20 * time.Millisecond)
		m.handle(p, now)
	}
	for i := 0; i < 10; i++ {
		step()
	}
	if a := testing.AllocsPerRun(500, step); a > 1 {
		t.Fatalf("%.1f allocations per packet, want 1 (the Data copy)", a)
	}
}
