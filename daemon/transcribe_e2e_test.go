package daemon_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var sentences = []string{"good morning", "the quick brown fox", "jumps over the lazy dog"}

// checkCues asserts one cue per sentence with the exact text and a start
// within ±50 ms of the sentence's first tone.
func checkCues(t *testing.T, sp *speech, cues []jsonCue, offset float64) {
	t.Helper()
	if len(cues) != len(sp.sentences) {
		t.Fatalf("%d cues %+v, want %d", len(cues), cues, len(sp.sentences))
	}
	for i, c := range cues {
		if got := strings.Join(c.Lines, " "); got != sp.sentences[i] {
			t.Errorf("cue %d text %q, want %q", i, got, sp.sentences[i])
		}
		want := offset + float64(sp.onsets[i])/float64(sp.rate)
		if d := c.Start - want; math.Abs(d) > 0.050 {
			t.Errorf("cue %d starts at %.3f s, tone onset at %.3f s (%+.0f ms)", i, c.Start, want, d*1000)
		}
		if i > 0 && c.Start < cues[i-1].End {
			t.Errorf("cue %d starts at %.3f before cue %d ends at %.3f", i, c.Start, i-1, cues[i-1].End)
		}
	}
}

func TestTranscribeTSCodecs(t *testing.T) {
	dir := t.TempDir()
	sp := spellSentences(t, 48000, 1.8, sentences...)
	wavPath := filepath.Join(dir, "speech.wav")
	if err := os.WriteFile(wavPath, sp.wav, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, codec string }{
		{"aac-adts", "aac"},
		{"mp2", "mp2"},
		{"ac3", "ac3"},
		{"eac3", "eac3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := filepath.Join(dir, tt.name+".ts")
			ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", wavPath,
				"-map", "0:v", "-map", "1:a", "-shortest",
				"-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
				"-c:a", tt.codec, "-ac", "2", "-ar", "48000", "-b:a", "192k", "-f", "mpegts", ts)
			out, errOut, code := subtitled(t, nil, "transcribe", ts, "--model", toneModelDir(), "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			checkCues(t, sp, parseJSONCues(t, out), 0)
		})
	}
}

func TestTranscribeStdinAndWAV(t *testing.T) {
	dir := t.TempDir()
	sp := spellSentences(t, 48000, 1.8, sentences...)
	wavPath := filepath.Join(dir, "speech.wav")
	if err := os.WriteFile(wavPath, sp.wav, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, "in.ts")
	ffmpeg(t, "-i", wavPath, "-c:a", "aac", "-ac", "2", "-f", "mpegts", ts)
	data, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := subtitled(t, data, "transcribe", "-", "--model", toneModelDir(), "--format", "json")
	if code != 0 {
		t.Fatalf("stdin: exit %d: %s", code, errOut)
	}
	checkCues(t, sp, parseJSONCues(t, out), 0)

	// A WAV file goes straight to the resampler; times start at its first sample.
	vtt := filepath.Join(dir, "out.vtt")
	if _, errOut, code := subtitled(t, nil, "transcribe", wavPath, "--model", toneModelDir(), "--format", "vtt", "--out", vtt); code != 0 {
		t.Fatalf("wav: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(vtt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "WEBVTT") || !strings.Contains(string(b), "jumps over the lazy dog") {
		t.Fatalf("unexpected WebVTT:\n%s", b)
	}
}

func TestTranscribePTSWrap(t *testing.T) {
	dir := t.TempDir()
	sp := spellSentences(t, 48000, 1.8, sentences...)
	wavPath := filepath.Join(dir, "speech.wav")
	if err := os.WriteFile(wavPath, sp.wav, 0o644); err != nil {
		t.Fatal(err)
	}
	// 2^33 ticks is 95443.7176 s: start 4 s before the wrap, so it falls
	// inside the second sentence.
	ts := filepath.Join(dir, "wrap.ts")
	ffmpeg(t, "-i", wavPath, "-c:a", "aac", "-ac", "2", "-output_ts_offset", "95439.7", "-f", "mpegts", ts)
	out, errOut, code := subtitled(t, nil, "transcribe", ts, "--model", toneModelDir(), "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	cues := parseJSONCues(t, out)
	checkCues(t, sp, cues, 0)

	// With the stream's own clock the times pass 2^33/90000 s and keep rising.
	out, errOut, code = subtitled(t, nil, "transcribe", ts, "--model", toneModelDir(), "--format", "json", "--absolute-times")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	abs := parseJSONCues(t, out)
	if len(abs) != len(sentences) {
		t.Fatalf("absolute: %d cues", len(abs))
	}
	const wrap = float64(1<<33) / 90000
	if abs[0].Start > wrap || abs[len(abs)-1].Start < wrap {
		t.Fatalf("cues %+v do not straddle the wrap at %.3f s", abs, wrap)
	}
	for i := 1; i < len(abs); i++ {
		if abs[i].Start <= abs[i-1].Start {
			t.Fatalf("times not monotonic across the wrap: %+v", abs)
		}
	}
}

func TestTranscribeBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.ts")
	if err := os.WriteFile(junk, []byte(strings.Repeat("this is not a transport stream\n", 4000)), 0o644); err != nil {
		t.Fatal(err)
	}
	videoOnly := filepath.Join(dir, "video.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", videoOnly)
	dts := filepath.Join(dir, "dts.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-t", "1", "-ac", "2", "-strict", "-2", "-c:a", "dts", "-f", "mpegts", dts)
	good := filepath.Join(dir, "good.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-t", "1", "-c:a", "aac", "-f", "mpegts", good)

	tests := []struct {
		name string
		env  []string
		args []string
		want string // in the single error line
	}{
		{"not a TS", nil, []string{junk}, "not an MPEG transport stream"},
		{"no audio PID", nil, []string{videoOnly}, "no audio stream"},
		{"unsupported codec", nil, []string{dts}, "unsupported audio codec: dts (stream_type 0x82) on PID"},
		{"missing input", nil, []string{filepath.Join(dir, "nope.ts")}, "no such file"},
		{"missing model", nil, []string{good, "--model", filepath.Join(dir, "no-model")}, "model bundle not found"},
		{"missing runtime", []string{"SUBTITLED_ORT_LIB=" + filepath.Join(dir, "libonnxruntime.so.1")}, []string{good}, "ONNX Runtime library not found"},
		{"bad format", nil, []string{good, "--format", "doc"}, "unknown caption format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"transcribe", "--quiet", "--model", toneModelDir()}, tt.args...)
			for _, e := range tt.env {
				k, v, _ := strings.Cut(e, "=")
				t.Setenv(k, v)
			}
			out, errOut, code := subtitled(t, nil, args...)
			if code == 0 {
				t.Fatalf("exit 0, stdout %q", out)
			}
			msg := strings.TrimSpace(string(errOut))
			if strings.Count(msg, "\n") != 0 {
				t.Fatalf("want one error line, got:\n%s", msg)
			}
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "panic") {
				t.Fatalf("error %q does not say %q", msg, tt.want)
			}
		})
	}
}

// TestTranscribeEmbeddedDemoModel: with no --model and no demo model on
// disk (the test binary has only bin/ and lib/, and runs in an empty
// directory), transcribe unpacks the demo model built into the binary into
// the user's cache directory, reuses it on the next run, and recognises
// espeak-ng speech with it.
func TestTranscribeEmbeddedDemoModel(t *testing.T) {
	dir := t.TempDir()
	raw, ts := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "speech.ts")
	if out, err := exec.Command("espeak-ng", "-v", "en-us", "-s", "160", "-w", raw, "good evening and welcome to the news").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng (Debian package espeak-ng): %v\n%s", err, out)
	}
	ffmpeg(t, "-i", raw, "-af", "apad=pad_dur=1", "-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "mpegts", ts)
	cache := filepath.Join(dir, "cache")
	for run := range 2 {
		cmd := exec.Command(binary, "transcribe", ts, "--format", "json")
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "CACHE_DIRECTORY=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, stderr.Bytes())
		}
		var text []string
		for _, c := range parseJSONCues(t, stdout.Bytes()) {
			text = append(text, strings.Join(c.Lines, " "))
		}
		if got := strings.Join(text, " "); got != "good evening and welcome to the news" {
			t.Errorf("run %d: %q", run, got)
		}
	}
	unpacked, err := filepath.Glob(filepath.Join(cache, "subtitled", "models", "demo-en-*", "model.onnx"))
	if err != nil || len(unpacked) != 1 {
		t.Fatalf("unpacked demo models: %v %v", unpacked, err)
	}
}
