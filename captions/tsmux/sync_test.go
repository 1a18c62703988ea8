package tsmux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/teletext"
)

// pcrWriter collects the output and remembers its last PCR (90 kHz).
type pcrWriter struct {
	bytes.Buffer
	lastPCR int64
}

func (w *pcrWriter) Write(p []byte) (int, error) {
	for o := 0; o+tsSize <= len(p); o += tsSize {
		q := p[o:]
		if q[3]&0x20 != 0 && q[4] >= 7 && q[5]&0x10 != 0 {
			w.lastPCR = int64(q[6])<<25 | int64(q[7])<<17 | int64(q[8])<<9 | int64(q[9])<<1 | int64(q[10]>>7)
		}
	}
	return w.Buffer.Write(p)
}

// absolute shifts cue times by origin (90 kHz).
func absolute(cues []captions.Cue, origin int64) []captions.Cue {
	out := slices.Clone(cues)
	for i := range out {
		out[i].Start += origin
		out[i].End += origin
	}
	return out
}

// TestDelayMode runs the delay line as the daemon does: each cue reaches
// the mux half a second after its last word, and must still be shown at
// the media time of its first word. The output lags the input by exactly
// the delay, and the line holds no more than the delay's worth of bytes.
func TestDelayMode(t *testing.T) {
	const delay = 3 * time.Second
	latency := durTicks(500 * time.Millisecond)
	for i, s := range streams {
		t.Run(s.name, func(t *testing.T) {
			path, in := streamFixture(t, i)
			origin := ffprobeStart(t, path)
			rel := testCues(t)
			cues := absolute(rel, origin*90)
			w := &pcrWriter{lastPCR: -1}
			m, err := New(w, Options{Sync: SyncDelay, Delay: delay})
			if err != nil {
				t.Fatal(err)
			}
			pkts := parseTS(t, in)
			var inPCR, first int64 = -1, -1
			next := 0
			var maxBuf int64
			lags := 0
			for _, p := range pkts {
				if p.pcr >= 0 {
					inPCR = p.pcr / 300
					if first < 0 {
						first = inPCR
					}
				}
				for next < len(cues) && inPCR >= 0 && inPCR >= cues[next].End+latency {
					if err := m.AddCue(cues[next]); err != nil {
						t.Fatal(err)
					}
					next++
				}
				if err := m.WritePacket(p.raw); err != nil {
					t.Fatal(err)
				}
				maxBuf = max(maxBuf, m.Stats().Buffered)
				if p.pcr >= 0 && inPCR-first > durTicks(delay+500*time.Millisecond) {
					lag := time.Duration(inPCR-w.lastPCR) * time.Second / 90000
					if lag < delay-100*time.Millisecond || lag > delay+100*time.Millisecond {
						t.Fatalf("output lags the input by %v, want %v", lag, delay)
					}
					lags++
				}
			}
			if next != len(cues) || lags == 0 {
				t.Fatalf("%d cues added, %d lag checks", next, lags)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			// Memory: about delay × bitrate (the input is 10 s long).
			if limit := int64(len(in)) * int64(delay+time.Second) / int64(10*time.Second); maxBuf > limit {
				t.Errorf("delay line held %d bytes, more than %d", maxBuf, limit)
			}
			st := m.Stats()
			if st.CuesShown != uint64(len(cues)) || st.CuesLate != 0 || st.CuesDropped != 0 {
				t.Errorf("stats %+v", st)
			}
			out := w.Bytes()
			outPath := writeTemp(t, "out.ts", out)
			pmtPID, ttxPID := programPIDs(t, out)
			checkPassThrough(t, in, out, pmtPID, ttxPID)
			fix1 := ffmpegDecode(t, outPath, 1, "-copyts")
			checkDecoded(t, "ffmpeg", fix1, rel, origin, 100)
			if fix0 := ffmpegDecode(t, outPath, 0, "-copyts"); !slices.Equal(fix0, fix1) {
				t.Errorf("-fix_teletext_pts 0 and 1 differ:\n%+v\n%+v", fix0, fix1)
			}
			if gst := gstCues(t, outPath); !slices.Equal(gst, cueTexts(rel)) {
				t.Errorf("GStreamer: %q", gst)
			}
		})
	}
}

// TestLiveMode adds each cue when the input reaches its start (a
// recognizer without latency) and expects it shown right then: within the
// PCR interval plus Lead.
func TestLiveMode(t *testing.T) {
	for _, i := range []int{0, 2} {
		t.Run(streams[i].name, func(t *testing.T) {
			path, in := streamFixture(t, i)
			origin := ffprobeStart(t, path)
			rel := testCues(t)
			cues := absolute(rel, origin*90)
			var w bytes.Buffer
			m, err := New(&w, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var inPCR int64 = -1
			next := 0
			for _, p := range parseTS(t, in) {
				if p.pcr >= 0 {
					inPCR = p.pcr / 300
				}
				for next < len(cues) && inPCR >= cues[next].Start {
					// Live mode ignores the start time: only the
					// duration counts.
					c := cues[next]
					c.Start, c.End = 0, c.End-c.Start
					if err := m.AddCue(c); err != nil {
						t.Fatal(err)
					}
					next++
				}
				if err := m.WritePacket(p.raw); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			outPath := writeTemp(t, "out.ts", w.Bytes())
			got := ffmpegDecode(t, outPath, 1, "-copyts")
			if len(got) != len(rel) {
				t.Fatalf("%d cues: %+v", len(got), got)
			}
			for k, g := range got {
				if g.text != strings.Join(rel[k].Lines, "\n") {
					t.Errorf("cue %d: %q", k, g.text)
				}
				d := g.start - origin - rel[k].Start/90
				if d < 0 || d > 250 {
					t.Errorf("cue %d shown %d ms after it was added, want 0–250", k, d)
				}
				if dur, want := g.end-g.start, (rel[k].End-rel[k].Start)/90; dur < want-5 || dur > want+5 {
					t.Errorf("cue %d on screen %d ms, want %d", k, dur, want)
				}
			}
			if fix0 := ffmpegDecode(t, outPath, 0, "-copyts"); !slices.Equal(fix0, got) {
				t.Errorf("-fix_teletext_pts 0 and 1 differ:\n%+v\n%+v", fix0, got)
			}
		})
	}
}

// TestAddCueConcurrent adds cues from another goroutine while packets flow
// (run with -race).
func TestAddCueConcurrent(t *testing.T) {
	_, in := streamFixture(t, 2)
	m, err := New(io.Discard, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := m.AddCue(captions.Cue{ID: uint64(i), End: 9000, Lines: []string{fmt.Sprint("cue ", i)}}); err != nil {
				t.Error(err)
			}
			_ = m.Stats()
			runtime.Gosched()
		}
	}()
	half := len(in) / tsSize / 2 * tsSize
	for o := 0; o < len(in); o += tsSize {
		if o == half {
			wg.Wait()
		}
		if err := m.WritePacket(in[o : o+tsSize]); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.CuesShown != n || st.CuesDropped != 0 || st.PacketsIn != uint64(len(in)/tsSize) {
		t.Fatalf("stats %+v", st)
	}
	if err := m.AddCue(captions.Cue{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddCue after Close: %v", err)
	}
	if err := m.WritePacket(in[:tsSize]); !errors.Is(err, ErrClosed) {
		t.Fatalf("WritePacket after Close: %v", err)
	}
}

// TestQueueBound checks that AddCue never blocks and keeps at most
// MaxPending cues, dropping the oldest.
func TestQueueBound(t *testing.T) {
	var warned []error
	m, err := New(io.Discard, Options{MaxPending: 3, OnWarning: func(err error) { warned = append(warned, err) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := m.AddCue(captions.Cue{ID: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.incoming) != 3 || m.incoming[0].ID != 2 || len(warned) != 2 || !errors.Is(warned[0], ErrCueDropped) {
		t.Fatalf("queue %+v, warnings %v", m.incoming, warned)
	}
	if err := m.WritePacket(make([]byte, 100)); !errors.Is(err, ErrPacket) {
		t.Fatalf("short packet: %v", err)
	}
	if err := m.Close(); !errors.Is(err, ErrNoPMT) {
		t.Fatalf("Close: %v", err)
	}
	if st := m.Stats(); st.CuesDropped != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"PID too low", Options{PID: 0x0F}},
		{"null PID", Options{PID: 0x1FFF}},
		{"live with delay", Options{Delay: time.Second}},
		{"negative delay", Options{Sync: SyncDelay, Delay: -time.Second}},
		{"unknown sync", Options{Sync: 7}},
		{"bad page", Options{Teletext: teletext.Options{Page: 999}}},
	} {
		if _, err := New(io.Discard, tc.opts); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	m, err := New(io.Discard, Options{Sync: SyncDelay, Delay: 4 * time.Second, HearingImpaired: true,
		Teletext: teletext.Options{Page: 150, Language: "de"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x56, 5, 'd', 'e', 'u', 0x05<<3 | 1, 0x50}; !bytes.Equal(m.desc, want) {
		t.Fatalf("descriptor % X, want % X", m.desc, want)
	}
	if m.Encoder().PageNumber() != 150 || m.Stats().PMTVersion != -1 {
		t.Fatal("encoder or stats")
	}
}

func TestParseSync(t *testing.T) {
	for in, want := range map[string]Sync{"live": SyncLive, "": SyncLive, " Delay ": SyncDelay} {
		if got, err := ParseSync(in); err != nil || got != want {
			t.Errorf("ParseSync(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSync("later"); err == nil {
		t.Error("ParseSync accepted \"later\"")
	}
}
