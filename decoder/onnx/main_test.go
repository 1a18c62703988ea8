package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the directory holding go.mod, found by walking up from the
// test's working directory.
var repoRoot string

func TestMain(m *testing.M) {
	if err := setupTests(); err != nil {
		fmt.Fprintln(os.Stderr, "decoder/onnx tests:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setupTests() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no go.mod above the test directory")
		}
		dir = parent
	}
	repoRoot = dir
	lib := filepath.Join(repoRoot, "lib", LibraryName)
	if _, err := os.Stat(lib); err != nil {
		return fmt.Errorf("ONNX Runtime library missing at %s: run `make ort` in %s first", lib, repoRoot)
	}
	if err := os.Setenv(EnvLibrary, lib); err != nil {
		return err
	}
	p, err := FindLibrary()
	if err != nil {
		return err
	}
	return Init(p)
}

func toneDir() string { return filepath.Join(repoRoot, "testdata", "models", "tone") }

// toneTable is tones.json.
type toneTable struct {
	SampleRate int `json:"sample_rate"`
	FeatureDim int `json:"feature_dim"`
	Tokens     []struct {
		ID     int     `json:"id"`
		Symbol string  `json:"symbol"`
		Band   int     `json:"band"`
		Hz     float64 `json:"hz"`
	} `json:"tokens"`
}

func loadTones(t testing.TB) map[string]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(toneDir(), "tones.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tt toneTable
	if err := json.Unmarshal(data, &tt); err != nil {
		t.Fatal(err)
	}
	bands := map[string]int{}
	for _, tok := range tt.Tokens {
		bands[tok.Symbol] = tok.Band
	}
	if len(bands) != 28 || tt.FeatureDim != 80 {
		t.Fatalf("tones.json: %d tokens, feature_dim %d", len(bands), tt.FeatureDim)
	}
	return bands
}

func openTone(t testing.TB) (*Bundle, *Model) {
	t.Helper()
	b, err := OpenBundle(toneDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(b, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return b, m
}

// script is a synthetic fbank stream spelling text in tones.
type script struct {
	frames []float32 // [L][80]
	onsets []int     // first frame of each letter tone (spaces included)
	ends   []int     // frame after each tone
}

const silence = float32(DefaultPadValue)

// spell builds log-mel frames: lead frames of silence, then per character a
// tone of toneLen frames at level in its band (a space is the word-break
// tone) followed by gap frames of silence, then tail frames of silence.
func spell(t testing.TB, text string, level float32, lead, toneLen, gap, tail int) script {
	t.Helper()
	bands := loadTones(t)
	const F = 80
	var s script
	add := func(n int, band int) {
		for i := 0; i < n; i++ {
			fr := make([]float32, F)
			for b := range fr {
				fr[b] = silence
			}
			if band >= 0 {
				fr[band] = level
			}
			s.frames = append(s.frames, fr...)
		}
	}
	add(lead, -1)
	for _, r := range text {
		sym := string(r)
		if r == ' ' {
			sym = "\u2581"
		}
		band, ok := bands[sym]
		if !ok {
			t.Fatalf("no tone for %q", sym)
		}
		s.onsets = append(s.onsets, len(s.frames)/F)
		add(toneLen, band)
		s.ends = append(s.ends, len(s.frames)/F)
		add(gap, -1)
	}
	add(tail, -1)
	return s
}

// wordOnsets returns, for each word of text, the index of its first letter
// in the script's tone list.
func wordOnsets(text string) []int {
	var idx []int
	prevSpace := true
	for i, r := range []rune(text) {
		if r == ' ' {
			prevSpace = true
			continue
		}
		if prevSpace {
			idx = append(idx, i)
		}
		prevSpace = false
	}
	return idx
}

// expectedStart is the PTS the tone model reports for a tone starting at
// feature frame f0: the first output frame i whose pooling window
// [4i-2, 4i+3) reaches the tone, at feature frame 4i.
func expectedStart(anchor int64, f0 int) int64 {
	i := int(math.Ceil(float64(f0-2) / 4))
	return anchor + int64(4*i)*900
}

// expectedEnd is one output frame after the last output frame whose pooling
// window still overlaps a tone ending before feature frame f1.
func expectedEnd(anchor int64, f1 int) int64 {
	i := (f1 + 1) / 4
	return anchor + int64(4*(i+1))*900
}

func framesOf(s script, from, to int) []float32 {
	return s.frames[from*80 : to*80]
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
