package daemon_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/tools/faults/fault"
)

// transcribeStats is the JSON line `transcribe --stats` prints on stderr.
type transcribeStats struct {
	TR101290              map[string]uint64 `json:"tr101290"`
	ScrambledAudioPackets uint64            `json:"scrambled_audio_packets"`
	NullPackets           uint64            `json:"null_packets"`
	TailBytes             uint64            `json:"tail_bytes"`
	PESErrors             uint64            `json:"pes_errors"`
	StreamChanges         uint64            `json:"stream_changes"`
	Discontinuities       uint64            `json:"discontinuities"`
	ParserPanics          uint64            `json:"parser_panics"`
	AudioDecodeErrors     uint64            `json:"audio_decode_errors"`
}

// parseStats finds the --stats line in stderr.
func parseStats(t *testing.T, stderr []byte) transcribeStats {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(stderr), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(lines[i], []byte(`{"`)) {
			var st transcribeStats
			if err := json.Unmarshal(lines[i], &st); err != nil {
				t.Fatalf("bad --stats line %q: %v", lines[i], err)
			}
			if st.TR101290 == nil {
				t.Fatalf("--stats line without tr101290: %s", lines[i])
			}
			return st
		}
	}
	t.Fatalf("no --stats line on stderr:\n%s", stderr)
	return transcribeStats{}
}

// transcribeFixture runs `transcribe --stats` on a TS and returns the cue
// texts and the counters; it fails on a non-zero exit or a panic.
func transcribeFixture(t *testing.T, ts string) ([]string, transcribeStats) {
	t.Helper()
	out, errOut, code := subtitled(t, nil, "transcribe", ts, "--model", toneModelDir(), "--format", "json", "--stats", "--quiet")
	if code != 0 || bytes.Contains(errOut, []byte("panic:")) {
		t.Fatalf("transcribe %s: exit %d:\n%s", filepath.Base(ts), code, errOut)
	}
	var texts []string
	for _, c := range parseJSONCues(t, out) {
		texts = append(texts, strings.Join(c.Lines, " "))
	}
	return texts, parseStats(t, errOut)
}

// TestFaultFixtures damages a clean tone-alphabet TS in every way of the
// fault catalogue, in the middle of the stream, and checks that transcribe
// survives each fault, reports it in the counter that belongs to it, and
// recognises the sentence spoken after it exactly.
func TestFaultFixtures(t *testing.T) {
	dir := t.TempDir()
	const pause = 2.0
	sentences := []string{"good day", "big fox", "lazy dog"}
	cleanTS, sp := toneTS(t, dir, "clean", pause, sentences...)
	clean, err := os.ReadFile(cleanTS)
	if err != nil {
		t.Fatal(err)
	}
	// Faults run from the pause after the first sentence to 1.2 s before
	// the last one; the truncation cuts 1 s into the final pause.
	at := func(sample int, sec float64) float64 {
		return (float64(sample) + sec*float64(sp.rate)) / float64(sp.samples)
	}
	opts := fault.Options{
		Seed:   42,
		Window: fault.Window{From: at(sp.onsets[1], -1.5), To: at(sp.onsets[2], -1.2)},
		Cut:    at(sp.samples, -1.0),
	}
	fx, err := fault.Fixtures(clean, opts)
	if err != nil {
		t.Fatal(err)
	}
	fx["codecchange"] = codecChangeTS(t, dir, pause, sentences)

	tr := func(key string) func(transcribeStats) uint64 {
		return func(s transcribeStats) uint64 {
			v, ok := s.TR101290[key]
			if !ok {
				t.Fatalf("no %s in tr101290 %v", key, s.TR101290)
			}
			return v
		}
	}
	cc := tr("1.4_continuity_count_error")
	tests := []struct {
		name    string
		counter string // what the fault must be counted as
		count   func(transcribeStats) uint64
	}{
		{"cc", "continuity_count_error", cc},
		{"loss1pct", "continuity_count_error", cc},
		{"burstloss", "continuity_count_error", cc},
		{"nopat", "pat_error", tr("1.3_pat_error")},
		{"nopmt", "pmt_error", tr("1.5_pmt_error")},
		{"pmtchange", "stream_changes", func(s transcribeStats) uint64 { return s.StreamChanges }},
		{"syncloss", "sync_byte_error", tr("1.2_sync_byte_error")},
		{"tei", "transport_error", tr("2.1_transport_error")},
		{"scramble", "scrambled_audio_packets", func(s transcribeStats) uint64 { return s.ScrambledAudioPackets }},
		{"truncate", "tail_bytes", func(s transcribeStats) uint64 { return s.TailBytes }},
		{"bitflip", "any error counter", func(s transcribeStats) uint64 {
			var n uint64
			for _, v := range s.TR101290 {
				n += v
			}
			return n + s.PESErrors + s.AudioDecodeErrors
		}},
		{"nulls", "null_packets", func(s transcribeStats) uint64 { return s.NullPackets }},
		{"ptsjump-fwd", "pts_error", tr("2.5_pts_error")},
		// A backward jump is no PTS_error (that is a gap over 700 ms), but
		// the audio PES after it must be delivered as a discontinuity.
		{"ptsjump-back", "discontinuities", func(s transcribeStats) uint64 { return s.Discontinuities }},
		{"pcrjump", "pcr_discontinuity", tr("2.3b_pcr_discontinuity")},
		{"codecchange", "stream_changes", func(s transcribeStats) uint64 { return s.StreamChanges }},
	}
	if len(tests) != len(fault.Names)+1 {
		t.Fatalf("%d cases for %d fixtures + codecchange", len(tests), len(fault.Names))
	}

	// The clean stream: every sentence, and none of the counters below.
	texts, cleanStats := transcribeFixture(t, cleanTS)
	if got, want := strings.Join(texts, "|"), strings.Join(sentences, "|"); got != want {
		t.Fatalf("clean stream: cues %q, want %q", got, want)
	}
	if cleanStats.ParserPanics != 0 {
		t.Errorf("clean stream: %d parser panics", cleanStats.ParserPanics)
	}

	last := sentences[len(sentences)-1]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, ok := fx[tt.name]
			if !ok {
				t.Fatalf("no fixture %s", tt.name)
			}
			if bytes.Equal(data, clean) {
				t.Fatalf("fixture %s is the clean stream", tt.name)
			}
			if n := tt.count(cleanStats); n != 0 {
				t.Fatalf("clean stream already counts %d %s", n, tt.counter)
			}
			path := filepath.Join(dir, tt.name+".ts")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			texts, st := transcribeFixture(t, path)
			if len(texts) == 0 {
				t.Fatalf("no cues: want the last to be %q", last)
			}
			if got := texts[len(texts)-1]; got != last {
				if !toneArtefact(got, last) {
					t.Errorf("cues %q: want the last to be %q", texts, last)
				} else {
					t.Logf("last cue %q is %q with tone-model leakage letters (the recogniser restarted at a sensitive phase)", got, last)
				}
			}
			if n := tt.count(st); n <= tt.count(cleanStats) {
				t.Errorf("%s = %d (clean stream: %d), want more; stats %+v", tt.counter, n, tt.count(cleanStats), st)
			}
			if st.ParserPanics != 0 {
				t.Errorf("%d go-astits panics recovered", st.ParserPanics)
			}
			t.Logf("cues %q; %s = %d", texts, tt.counter, tt.count(st))
		})
	}
}

// codecChangeTS is a splice of two recordings: the first sentences with AAC
// audio, then the last with MP2, same PIDs and a new PMT version, the clock
// continuing.
func codecChangeTS(t *testing.T, dir string, pause float64, sentences []string) []byte {
	t.Helper()
	n := len(sentences) - 1
	head, sp := toneTS(t, dir, "head", pause, sentences[:n]...)
	tail := spellSentences(t, 48000, pause, sentences[n:]...)
	wavPath := filepath.Join(dir, "tail.wav")
	if err := os.WriteFile(wavPath, tail.wav, 0o644); err != nil {
		t.Fatal(err)
	}
	tailTS := filepath.Join(dir, "tail.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", wavPath,
		"-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-c:a", "mp2", "-ac", "2", "-ar", "48000", "-b:a", "192k",
		"-tables_version", "1", "-output_ts_offset", fmt.Sprintf("%.3f", float64(sp.samples)/float64(sp.rate)),
		"-f", "mpegts", tailTS)
	var parts [][]byte
	for _, p := range []string{head, tailTS} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, b)
	}
	return fault.Concat(parts...)
}

// toneArtefact reports whether got is want with letters inserted that the
// tone-alphabet fixture model emits by leakage: a letter whose tone is the
// next band up or down from a neighbouring letter's ('b' beside 'a', 'e'
// beside 'd', 'w' beside 'x'). The model does this for some start phases of
// a segment modulo its 40 ms output frame, which a recogniser restart after a
// discontinuity lands on at random; fresh streams always start in phase. Any
// other difference (a lost, changed or extra letter, or word) is a failure.
func toneArtefact(got, want string) bool {
	g, w := []rune(got), []rune(want)
	if len(g) <= len(w) {
		return false
	}
	next := func(a, b rune) bool { return a >= 'a' && a <= 'z' && b >= 'a' && b <= 'z' && (a-b == 1 || b-a == 1) }
	// Greedy alignment: every rune of want in order; each extra rune of got
	// must be a neighbour-band letter of the rune before or after it.
	j := 0
	for i := 0; i < len(g); i++ {
		if j < len(w) && g[i] == w[j] {
			j++
			continue
		}
		leak := (i > 0 && next(g[i], g[i-1])) || (i+1 < len(g) && next(g[i], g[i+1]))
		if !leak {
			return false
		}
	}
	return j == len(w)
}

func TestFaultToneArtefact(t *testing.T) {
	tests := []struct {
		got  string
		want bool
	}{
		{"labzy dog", true},
		{"lbazy edog", true},
		{"lazy dog", false}, // equal: not an artefact, compared before
		{"lazy do", false},
		{"lazy cog", false},
		{"lazyq dog", false},
		{"lazy dogs", false},
		{"lazy dog fox", false},
		{"lazyx dog", true}, // 'x' is the band below 'y'
	}
	for _, tt := range tests {
		if got := toneArtefact(tt.got, "lazy dog"); got != tt.want {
			t.Errorf("toneArtefact(%q) = %v, want %v", tt.got, got, tt.want)
		}
	}
}
