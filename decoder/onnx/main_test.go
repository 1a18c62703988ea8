package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder"
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

// readJSON decodes the JSON file at path into v.
func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadTones(t testing.TB) map[string]int {
	t.Helper()
	var tt toneTable
	readJSON(t, filepath.Join(toneDir(), "tones.json"), &tt)
	bands := map[string]int{}
	for _, tok := range tt.Tokens {
		bands[tok.Symbol] = tok.Band
	}
	if len(bands) != 28 || tt.FeatureDim != 80 {
		t.Fatalf("tones.json: %d tokens, feature_dim %d", len(bands), tt.FeatureDim)
	}
	return bands
}

// openCTC opens the single-file bundle in dir on one thread; the test's
// cleanup closes it.
func openCTC(t testing.TB, dir string) *Model {
	t.Helper()
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(b, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func openTone(t testing.TB) (*Bundle, *Model) {
	t.Helper()
	m := openCTC(t, toneDir())
	return m.Bundle(), m
}

// streamStates returns n new stream states of m.
func streamStates(m *Model, n int) []*StreamState {
	out := make([]*StreamState, n)
	for i := range out {
		out[i] = m.NewStreamState()
	}
	return out
}

// chunkSink is what Streamer and TransducerStreamer have in common.
type chunkSink interface {
	Accept(frames []float32) error
	Finish() error
}

// fedStreamer opens a streamer at anchor and feeds it frames ([L][F]) in
// pieces of piece() frames, then finishes it.
func fedStreamer[S chunkSink](t testing.TB, open func(anchor int64) (S, error), anchor int64, frames []float32, F int, piece func() int) S {
	t.Helper()
	s, err := open(anchor)
	if err != nil {
		t.Fatal(err)
	}
	mustFeed(t, s, frames, F, piece)
	return s
}

// feedFrames passes frames ([L][F]) to s in pieces of piece() frames (the
// last one shorter), calling after (when set) after each piece, then
// finishes s.
func feedFrames(s chunkSink, frames []float32, F int, piece func() int, after func()) error {
	L := len(frames) / F
	for from := 0; from < L; {
		to := min(L, from+piece())
		if err := s.Accept(frames[from*F : to*F]); err != nil {
			return err
		}
		if after != nil {
			after()
		}
		from = to
	}
	return s.Finish()
}

// acceptAll passes frames to s in one piece and finishes it.
func acceptAll(t testing.TB, s chunkSink, frames []float32) {
	t.Helper()
	if err := s.Accept(frames); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
}

// mustFeed is feedFrames without a callback that fails the test on an error.
func mustFeed(t testing.TB, s chunkSink, frames []float32, F int, piece func() int) {
	t.Helper()
	if err := feedFrames(s, frames, F, piece, nil); err != nil {
		t.Fatal(err)
	}
}

// randomPieces gives piece sizes of 1..most frames from a PCG(seed, stream).
func randomPieces(seed, stream uint64, most int) func() int {
	rng := rand.New(rand.NewPCG(seed, stream))
	return func() int { return 1 + rng.IntN(most) }
}

// evenPieces gives pieces of n frames.
func evenPieces(n int) func() int { return func() int { return n } }

// streamers opens n streamers at anchor 0, failing the test on an error.
func streamers[S any](t testing.TB, n int, open func(anchor int64) (S, error)) []S {
	t.Helper()
	out := make([]S, n)
	for i := range out {
		var err error
		if out[i], err = open(0); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkWordsClose fails when got and want differ in a word's text or
// times, or in its confidence by more than 1e-5 (batched calls).
func checkWordsClose(t *testing.T, what string, got, want []decoder.Word) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: words %+v, want %+v", what, got, want)
	}
	for k, w := range got {
		v := want[k]
		if w.Text != v.Text || w.Start != v.Start || w.End != v.End || math.Abs(float64(w.Conf-v.Conf)) > 1e-5 {
			t.Errorf("%s word %d: %+v, want %+v", what, k, w, v)
		}
	}
}

// checkStatesMatter checks that a model uses its states: decode(tamper),
// with tamper applied to the state before every call but the first, gives
// want when tamper does nothing, and something else when tamper resets the
// state or zeroes any single one of states (zero(st, j)).
func checkStatesMatter[S any](t *testing.T, name, want string, states []StateInfo,
	decode func(tamper func(*S)) string, reset func(*S), zero func(st *S, j int)) {
	t.Helper()
	if got := decode(func(*S) {}); got != want {
		t.Fatalf("%s: fed back: %q", name, got)
	}
	got := decode(reset)
	t.Logf("%s without state feedback: %q", name, got)
	if got == want {
		t.Errorf("%s: decoding without state feedback gives the right text %q", name, got)
	}
	for j, info := range states {
		if got := decode(func(st *S) { zero(st, j) }); got == want {
			t.Errorf("%s: zeroing state %d (%s) before each call does not change the text", name, j, info.Name)
		}
	}
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
