package webrtc

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

type emitted struct {
	seq     uint16
	discont bool
	payload string
}

type jitterRun struct {
	jb  *jitterBuffer
	out []emitted
}

func newJitterRun() *jitterRun {
	r := &jitterRun{}
	r.jb = newJitterBuffer(func(e *rtpEntry) {
		r.out = append(r.out, emitted{seq: e.seq, discont: e.discont, payload: string(e.payload)})
	})
	return r
}

// push adds logical packet n: sequence base+n, timestamp n×960 (20 ms).
func (r *jitterRun) push(base uint16, n int) {
	r.jb.Push(base+uint16(n), uint32(n)*960, 111, []byte(fmt.Sprint(n)), time.Time{})
}

func TestJitterBuffer(t *testing.T) {
	type want struct {
		seqs    []int // logical numbers emitted, in order
		discont []int // logical numbers emitted with the discontinuity flag
		stats   jitterStats
		held    int
	}
	cases := []struct {
		name  string
		base  uint16
		in    []int
		flush bool
		// sameTS pushes every packet with the same timestamp, so that only
		// the packet-count limit gives up a gap.
		sameTS bool
		want   want
	}{
		{name: "in order", in: []int{0, 1, 2, 3, 4},
			want: want{seqs: []int{0, 1, 2, 3, 4}, discont: []int{0}}},
		{name: "swap", in: []int{0, 1, 3, 2, 4},
			want: want{seqs: []int{0, 1, 2, 3, 4}, discont: []int{0}, stats: jitterStats{Reordered: 1}}},
		{name: "three out of order", in: []int{0, 3, 2, 1, 4},
			want: want{seqs: []int{0, 1, 2, 3, 4}, discont: []int{0}, stats: jitterStats{Reordered: 2}}},
		{name: "wrap in order", base: 65533, in: []int{0, 1, 2, 3, 4, 5},
			want: want{seqs: []int{0, 1, 2, 3, 4, 5}, discont: []int{0}}},
		{name: "swap across wrap", base: 65533, in: []int{0, 1, 3, 2, 4, 5},
			want: want{seqs: []int{0, 1, 2, 3, 4, 5}, discont: []int{0}, stats: jitterStats{Reordered: 1}}},
		{name: "loss given up by media span", in: []int{0, 2, 3, 4, 5, 6},
			// 5 is 100 ms after 0 (> 80 ms): the gap at 1 is given up.
			want: want{seqs: []int{0, 2, 3, 4, 5, 6}, discont: []int{0, 2}, stats: jitterStats{Lost: 1}}},
		{name: "gap still waiting", in: []int{0, 2, 3},
			want: want{seqs: []int{0}, discont: []int{0}, held: 2}},
		{name: "gap filled in time", in: []int{0, 2, 3, 1, 4},
			want: want{seqs: []int{0, 1, 2, 3, 4}, discont: []int{0}, stats: jitterStats{Reordered: 1}}},
		{name: "loss given up by packet count", sameTS: true, in: []int{0, 2, 3, 4, 5, 6, 7, 8, 9, 10},
			want: want{seqs: []int{0, 2, 3, 4, 5, 6, 7, 8, 9, 10}, discont: []int{0, 2}, stats: jitterStats{Lost: 1}}},
		{name: "flush gives up gaps", in: []int{0, 2, 4}, flush: true,
			want: want{seqs: []int{0, 2, 4}, discont: []int{0, 2, 4}, stats: jitterStats{Lost: 2}}},
		{name: "duplicate after emit", in: []int{0, 1, 1, 2},
			want: want{seqs: []int{0, 1, 2}, discont: []int{0}, stats: jitterStats{Duplicates: 1}}},
		{name: "duplicate while held", in: []int{0, 2, 2, 1},
			want: want{seqs: []int{0, 1, 2}, discont: []int{0}, stats: jitterStats{Duplicates: 1, Reordered: 1}}},
		{name: "late after give-up", in: []int{0, 2, 3, 4, 5, 1, 6},
			want: want{seqs: []int{0, 2, 3, 4, 5, 6}, discont: []int{0, 2}, stats: jitterStats{Lost: 1, Late: 1}}},
		{name: "jump beyond window counts loss", in: []int{0, 1, 100, 101},
			want: want{seqs: []int{0, 1, 100, 101}, discont: []int{0, 100}, stats: jitterStats{Lost: 98}}},
		{name: "jump beyond window with held packets", in: []int{0, 2, 40},
			want: want{seqs: []int{0, 2, 40}, discont: []int{0, 2, 40}, stats: jitterStats{Lost: 1 + 37}}},
		{name: "huge jump forward restarts", in: []int{0, 1, 5000, 5001},
			want: want{seqs: []int{0, 1, 5000, 5001}, discont: []int{0, 5000}, stats: jitterStats{Restarts: 1}}},
		{name: "huge jump back restarts", in: []int{1000, 1001, 10, 11},
			want: want{seqs: []int{1000, 1001, 10, 11}, discont: []int{1000, 10}, stats: jitterStats{Restarts: 1, Reordered: 0}}},
		{name: "restart drains held packets first", in: []int{0, 2, 3, 9000}, flush: false,
			want: want{seqs: []int{0, 2, 3, 9000}, discont: []int{0, 2, 9000}, stats: jitterStats{Lost: 1, Restarts: 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newJitterRun()
			for _, n := range tc.in {
				if tc.sameTS {
					r.jb.Push(tc.base+uint16(n), 0, 111, []byte(fmt.Sprint(n)), time.Time{})
				} else {
					r.push(tc.base, n)
				}
			}
			if tc.flush {
				r.jb.Flush()
			}
			var got, disc []int
			for _, e := range r.out {
				n := int(e.seq - tc.base)
				if e.payload != fmt.Sprint(n) {
					t.Errorf("seq %d carries payload %q", e.seq, e.payload)
				}
				got = append(got, n)
				if e.discont {
					disc = append(disc, n)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want.seqs) {
				t.Errorf("emitted %v, want %v", got, tc.want.seqs)
			}
			if fmt.Sprint(disc) != fmt.Sprint(tc.want.discont) {
				t.Errorf("discontinuities at %v, want %v", disc, tc.want.discont)
			}
			if st := r.jb.Stats(); st != tc.want.stats {
				t.Errorf("stats %+v, want %+v", st, tc.want.stats)
			}
			if h := r.jb.Held(); h != tc.want.held {
				t.Errorf("held %d, want %d", h, tc.want.held)
			}
		})
	}
}

func TestJitterResetDropsHeld(t *testing.T) {
	r := newJitterRun()
	r.push(0, 0)
	r.push(0, 2)
	r.jb.Reset()
	if r.jb.Held() != 0 {
		t.Fatalf("held %d after Reset", r.jb.Held())
	}
	r.push(0, 50)
	if len(r.out) != 2 || r.out[1].seq != 50 || !r.out[1].discont {
		t.Fatalf("after Reset got %+v, want seq 50 with discontinuity", r.out)
	}
	if st := r.jb.Stats(); st.Lost != 0 {
		t.Fatalf("Reset counted %d lost", st.Lost)
	}
}

func TestJitterLargePayload(t *testing.T) {
	r := newJitterRun()
	big := make([]byte, 4000)
	big[3999] = 7
	r.jb.Push(0, 0, 111, []byte("a"), time.Time{})
	r.jb.Push(2, 1920, 111, big, time.Time{})
	r.jb.Push(1, 960, 111, []byte("b"), time.Time{})
	if len(r.out) != 3 || len(r.out[2].payload) != 4000 || r.out[2].payload[3999] != 7 {
		t.Fatalf("large held payload not kept intact: %d packets", len(r.out))
	}
}

func TestJitterNoAllocsInSteadyState(t *testing.T) {
	jb := newJitterBuffer(func(*rtpEntry) {})
	payload := make([]byte, 100)
	seq := uint16(0)
	push := func() {
		// A steady pattern of swaps and losses exercises the slots.
		jb.Push(seq+1, uint32(seq+1)*960, 111, payload, time.Time{})
		jb.Push(seq, uint32(seq)*960, 111, payload, time.Time{})
		jb.Push(seq+3, uint32(seq+3)*960, 111, payload, time.Time{})
		jb.Flush()
		seq += 4
	}
	for i := 0; i < 100; i++ {
		push()
	}
	if a := testing.AllocsPerRun(200, push); a != 0 {
		t.Fatalf("%.1f allocations per round, want 0", a)
	}
}

// FuzzJitter feeds arbitrary sequence/timestamp patterns and checks the
// buffer's invariants: every packet is emitted at most once, in increasing
// order between restarts, with its own payload; nothing is lost silently;
// at most jitterMaxHeld packets wait.
func FuzzJitter(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 2, 0, 1, 0, 255, 1, 0, 3, 0, 1})
	f.Add([]byte{0, 1, 0, 5, 0, 1, 0, 1, 200, 1, 1, 1, 2, 2, 2})
	f.Add([]byte{255, 255, 255, 255, 255, 255, 0, 0, 0, 128, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Packets are keyed by their sequence number unwrapped within a
		// restart's sequence space: a stream that moves forward by small
		// gaps wraps the 16-bit number and legitimately reuses it.
		type key struct {
			restarts uint64
			seq      int64
		}
		seen := map[key]bool{}
		var ext int64
		var prev uint16
		var havePrev bool
		var prevRestarts uint64
		var jb *jitterBuffer
		emittedN := 0
		jb = newJitterBuffer(func(e *rtpEntry) {
			emittedN++
			if len(e.payload) != 2 || binary.BigEndian.Uint16(e.payload) != e.seq {
				t.Fatalf("seq %d emitted with payload %x", e.seq, e.payload)
			}
			st := jb.Stats()
			// A restart begins a new sequence space; the packets flushed
			// just before it still belong to the old one, so key by the
			// restart count observed at emission and only compare order
			// within one space.
			if havePrev && st.Restarts == prevRestarts && !e.discont && e.seq != prev+1 {
				t.Fatalf("seq %d follows %d without a discontinuity", e.seq, prev)
			}
			if havePrev && st.Restarts == prevRestarts && int16(e.seq-prev) <= 0 {
				t.Fatalf("seq %d emitted after %d", e.seq, prev)
			}
			if havePrev && st.Restarts == prevRestarts {
				ext += int64(int16(e.seq - prev))
			} else {
				ext = int64(e.seq)
			}
			k := key{st.Restarts, ext}
			if seen[k] {
				t.Fatalf("seq %d (unwrapped %d) emitted twice", e.seq, ext)
			}
			seen[k] = true
			prev, havePrev, prevRestarts = e.seq, true, st.Restarts
		})
		seq := uint16(1000)
		ts := uint32(0)
		pushed := 0
		for i := 0; i+2 < len(data); i += 3 {
			switch data[i+2] % 8 {
			case 7:
				jb.Flush()
				continue
			case 6:
				seq += uint16(data[i]) << 8 // big jumps
			default:
				seq += uint16(int8(data[i]))
			}
			ts += uint32(data[i+1]) * 48
			var p [2]byte
			binary.BigEndian.PutUint16(p[:], seq)
			jb.Push(seq, ts, 111, p[:], time.Time{})
			pushed++
			if jb.Held() > jitterMaxHeld {
				t.Fatalf("%d packets held", jb.Held())
			}
		}
		st := jb.Stats()
		if got := uint64(emittedN) + st.Duplicates + st.Late + uint64(jb.Held()); got != uint64(pushed) {
			t.Fatalf("pushed %d, accounted %d (emitted %d, %+v, held %d)", pushed, got, emittedN, st, jb.Held())
		}
		jb.Flush()
		if jb.Held() != 0 {
			t.Fatalf("%d held after Flush", jb.Held())
		}
	})
}
