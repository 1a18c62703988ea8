package tsmux

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/captions"
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
