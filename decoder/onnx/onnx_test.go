package onnx

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/subtitled/subtitled/decoder/ctc"
)

func TestOpenBundleTone(t *testing.T) {
	b, err := OpenBundle(toneDir())
	if err != nil {
		t.Fatal(err)
	}
	want := Contract{
		Family: FamilySubtitledCTC, Version: 1, FeatureType: "kaldi_fbank", FeatureDim: 80,
		SampleRate: 16000, ChunkFrames: 8, ChunkShift: 8, Subsampling: 4, BlankID: 0,
		PadValue: DefaultPadValue, StateBatchAxes: []int{0, 1}, VocabSize: 29,
		States: []StateInfo{
			{Name: "bg", DType: "float32", Shape: []int64{1, 1}, BatchAxis: 0},
			{Name: "hist", DType: "float32", Shape: []int64{2, 1, 28}, BatchAxis: 1},
		},
	}
	if !reflect.DeepEqual(b.Contract, want) {
		t.Errorf("Contract = %+v\nwant       %+v", b.Contract, want)
	}
	if b.Name() != "tone-alphabet" || b.Config.Language != "en" || b.States() != 2 {
		t.Errorf("Name %q, language %q, states %d", b.Name(), b.Config.Language, b.States())
	}
	if got, want := b.Describe(), "inputs: x[?,8,80] float32, bg[?,1] float32, hist[2,?,28] float32; "+
		"outputs: log_probs[?,2,29] float32, next_bg[?,1] float32, next_hist[2,?,28] float32; metadata keys: "; !strings.HasPrefix(got, want) {
		t.Errorf("Describe = %q", got)
	}
	if id, ok := b.Tokens.Lookup("\u2581"); !ok || id != 1 {
		t.Errorf("word-break token id %d, %v", id, ok)
	}
}

// The ONNX graph agrees with the numpy reference of tools/tonemodel.
func TestToneGolden(t *testing.T) {
	_, m := openTone(t)
	var g struct {
		Batch int
		Steps []struct {
			X        []float32 `json:"x"`
			LogProbs []float32 `json:"log_probs"`
			NextBg   []float32 `json:"next_bg"`
			NextHist []float32 `json:"next_hist"`
		}
	}
	readJSON(t, "testdata/tone_golden.json", &g)
	n := g.Batch
	states := streamStates(m, n)
	const tol = 2e-4
	for c, st := range g.Steps {
		lp, err := m.Run(st.X, states)
		if err != nil {
			t.Fatal(err)
		}
		per := len(st.LogProbs) / n
		for i := 0; i < n; i++ {
			assertClose(t, c, "log_probs", lp[i], st.LogProbs[i*per:(i+1)*per], tol)
			assertClose(t, c, "next_bg", states[i].data[0], st.NextBg[i:i+1], tol)
			// next_hist is [2,N,28]: stream i's rows are at (h*N+i)*28.
			var hist []float32
			for h := 0; h < 2; h++ {
				hist = append(hist, st.NextHist[(h*n+i)*28:(h*n+i+1)*28]...)
			}
			assertClose(t, c, "next_hist", states[i].data[1], hist, tol)
		}
	}
}

func assertClose(t *testing.T, call int, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("call %d %s: %d values, want %d", call, what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("call %d %s[%d] = %v, want %v", call, what, i, got[i], want[i])
		}
	}
}

func TestStreamerHelloWorld(t *testing.T) {
	_, m := openTone(t)
	const text = "hello world"
	const anchor = 900_000
	// Lead-in 23 frames, tones 11 frames, gaps 12: onsets fall on every
	// phase of the 4-frame output grid and of the 8-frame chunk grid.
	s := spell(t, text, 3, 23, 11, 12, 30)
	st, err := m.NewStreamer(anchor)
	if err != nil {
		t.Fatal(err)
	}
	// Feed in ragged pieces: 1, 2, 3, … frames.
	L := len(s.frames) / 80
	for from, n := 0, 1; from < L; from, n = from+n, n%13+1 {
		if err := st.Accept(framesOf(s, from, min(L, from+n))); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := st.Text(); got != text {
		t.Fatalf("Text = %q, want %q", got, text)
	}
	if want := int64((L + 7) / 8); st.Calls() != want {
		t.Errorf("Calls = %d, want ceil(%d/8) = %d", st.Calls(), L, want)
	}
	words := st.Words()
	starts := wordOnsets(text)
	for w, i := range starts {
		f0 := s.onsets[i]
		if got, want := words[w].Start, expectedStart(anchor, f0); got != want {
			t.Errorf("word %q start %d, want %d (tone onset at %d)", words[w].Text, got, want, anchor+int64(f0)*900)
		}
		if d := words[w].Start - (anchor + int64(f0)*900); d < -1800 || d > 1800 {
			t.Errorf("word %q starts %d ms from its tone onset", words[w].Text, d/90)
		}
		last := len(text) - 1
		if w+1 < len(starts) {
			last = starts[w+1] - 2 // the letter before the space
		}
		if got, want := words[w].End, expectedEnd(anchor, s.ends[last]); got != want {
			t.Errorf("word %q end %d, want %d", words[w].Text, got, want)
		}
		if words[w].Conf < 0.99 || words[w].Conf > 1 {
			t.Errorf("word %q conf %v", words[w].Text, words[w].Conf)
		}
	}
	if err := st.Accept(framesOf(s, 0, 1)); !errors.Is(err, ErrFinished) {
		t.Errorf("Accept after Finish: %v", err)
	}
	// Reset starts over with the same result.
	st.Reset(0)
	acceptAll(t, st, s.frames)
	if st.Text() != text || st.Words()[0].Start != expectedStart(0, s.onsets[0]) {
		t.Errorf("after Reset: %q %+v", st.Text(), st.Words())
	}
}

// decodeChunks runs a script through Run one call at a time; with
// resetEachCall the state is thrown away after every call.
func decodeChunks(t *testing.T, m *Model, s script, resetEachCall bool) string {
	t.Helper()
	tamper := func(*StreamState) {}
	if resetEachCall { // a new stream's state is the reset one: skipping the first call's is the same
		tamper = (*StreamState).Reset
	}
	return decodeCTCWith(t, m, s.frames, tamper)
}

// The model's state must be fed back: throwing it away after every call
// changes the transcript.
func TestStateFeedbackMatters(t *testing.T) {
	_, m := openTone(t)
	for _, text := range []string{"hello world", "state matters"} {
		s := spell(t, text, 3, 23, 11, 12, 30)
		if got := decodeChunks(t, m, s, false); got != text {
			t.Fatalf("fed state: %q, want %q", got, text)
		}
		got := decodeChunks(t, m, s, true)
		if got == text {
			t.Fatalf("state reset every call still gives %q; the fixture's state does not matter", got)
		}
		t.Logf("state reset every call: %q -> %q", text, got)
	}
}

// Batching streams in one call gives exactly the log-probs and states of
// running each stream alone.
func TestBatchEqualsSolo(t *testing.T) {
	_, m := openTone(t)
	scripts := []script{
		spell(t, "hello world", 3, 23, 11, 12, 30),
		spell(t, "batch axes", 9, 17, 14, 10, 9),
		spell(t, "don't", 5, 40, 9, 13, 3),
	}
	texts := []string{"hello world", "batch axes", "don't"}
	c := m.Contract()
	T, S, F := c.ChunkFrames, c.ChunkShift, c.FeatureDim
	window := func(s script, call int) []float32 {
		w := make([]float32, T*F)
		for i := range w {
			w[i] = c.PadValue
		}
		if from := call * S * F; from < len(s.frames) {
			copy(w, s.frames[from:])
		}
		return w
	}
	calls := 0
	for _, s := range scripts {
		calls = max(calls, (len(s.frames)/F+S-1)/S)
	}
	solo := make([]*StreamState, 3)
	batch := make([]*StreamState, 3)
	search := make([]*ctc.Greedy, 3)
	for i := range solo {
		solo[i], batch[i] = m.NewStreamState(), m.NewStreamState()
		search[i], _ = ctc.NewGreedy(m.Bundle().Tokens, 0, c.Subsampling, 0)
	}
	x := make([]float32, 0, 3*T*F)
	differ := make([]bool, len(solo[0].data))
	for call := 0; call < calls; call++ {
		want := make([][]float32, 3)
		for i, s := range scripts {
			lp, err := m.Run(window(s, call), solo[i:i+1])
			if err != nil {
				t.Fatal(err)
			}
			want[i] = slices.Clone(lp[0])
		}
		x = x[:0]
		for _, s := range scripts {
			x = append(x, window(s, call)...)
		}
		got, err := m.Run(x, batch)
		if err != nil {
			t.Fatal(err)
		}
		for j := range solo[0].data {
			if !slices.Equal(solo[0].data[j], solo[1].data[j]) && !slices.Equal(solo[1].data[j], solo[2].data[j]) {
				differ[j] = true
			}
		}
		for i := range scripts {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("call %d stream %d: batched log-probs differ from solo", call, i)
			}
			for j := range solo[i].data {
				if !slices.Equal(batch[i].data[j], solo[i].data[j]) {
					t.Fatalf("call %d stream %d: state %d differs batched vs solo", call, i, j+1)
				}
			}
			if err := search[i].Accept(got[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Unless the streams' states differ, a mix-up would go unseen.
	for j, d := range differ {
		if !d {
			t.Errorf("state %d never differed between streams", j+1)
		}
	}
	for i, g := range search {
		if g.Text() != texts[i] {
			t.Errorf("stream %d: %q, want %q", i, g.Text(), texts[i])
		}
	}
}

func TestStackScatter(t *testing.T) {
	tests := []struct {
		shape []int64 // per-stream shape, batch axis = 1
		axis  int
	}{
		{[]int64{1, 3}, 0},
		{[]int64{2, 1, 3}, 1},
		{[]int64{3, 4, 1}, 2},
		{[]int64{1}, 0},
		{[]int64{2, 3, 1, 2}, 2},
	}
	for _, tc := range tests {
		sp := stateSpec{shape: tc.shape, axis: tc.axis, outer: 1, inner: 1}
		for d, n := range tc.shape {
			if d < tc.axis {
				sp.outer *= int(n)
			} else if d > tc.axis {
				sp.inner *= int(n)
			}
		}
		sp.size = sp.outer * sp.inner
		const n = 3
		srcs := make([][]float32, n)
		for i := range srcs {
			srcs[i] = make([]float32, sp.size)
			for k := range srcs[i] {
				srcs[i][k] = float32(1000*i + k)
			}
		}
		dst := make([]float32, n*sp.size)
		for i := range srcs {
			stack(dst, srcs[i], sp, n, i)
		}
		// Check against the definition: element (o, i, k) of the batched
		// tensor is element (o, k) of stream i.
		for o := 0; o < sp.outer; o++ {
			for i := 0; i < n; i++ {
				for k := 0; k < sp.inner; k++ {
					if got, want := dst[(o*n+i)*sp.inner+k], srcs[i][o*sp.inner+k]; got != want {
						t.Fatalf("shape %v axis %d: (%d,%d,%d) = %v, want %v", tc.shape, tc.axis, o, i, k, got, want)
					}
				}
			}
		}
		for i := range srcs {
			back := make([]float32, sp.size)
			scatter(back, dst, sp, n, i)
			if !slices.Equal(back, srcs[i]) {
				t.Fatalf("shape %v axis %d: scatter(stack) != identity for stream %d", tc.shape, tc.axis, i)
			}
		}
	}
}

// A model with look-ahead (T > S) gets overlapping windows and the same
// words as the model without it.
func TestStreamerLookahead(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(toneDir(), "tokens.txt"), filepath.Join(dir, "tokens.txt"))
	copyFile(t, "testdata/variants/lookahead.onnx", filepath.Join(dir, "model.onnx"))
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Contract.ChunkFrames != 10 || b.Contract.ChunkShift != 8 {
		t.Fatalf("lookahead variant: T=%d S=%d", b.Contract.ChunkFrames, b.Contract.ChunkShift)
	}
	la, err := NewModel(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	_, plain := openTone(t)
	for _, tail := range []int{0, 1, 2, 3, 7, 8, 9} {
		s := spell(t, "look ahead", 4, 21, 10, 11, tail)
		L := len(s.frames) / 80
		var words [2]string
		for k, m := range []*Model{plain, la} {
			st, err := m.NewStreamer(0)
			if err != nil {
				t.Fatal(err)
			}
			acceptAll(t, st, s.frames)
			if want := int64((L + 7) / 8); st.Calls() != want {
				t.Errorf("tail %d model %d: %d calls for %d frames, want %d", tail, k, st.Calls(), L, want)
			}
			got, _ := json.Marshal(st.Words())
			words[k] = string(got)
		}
		if words[0] != words[1] {
			t.Errorf("tail %d: look-ahead words %s != %s", tail, words[1], words[0])
		}
		if !strings.Contains(words[0], `"look"`) || !strings.Contains(words[0], `"ahead"`) {
			t.Errorf("tail %d: words %s", tail, words[0])
		}
	}
}

func TestStreamerEdgeCases(t *testing.T) {
	_, m := openTone(t)
	st, _ := m.NewStreamer(0)
	if err := st.Finish(); err != nil || st.Calls() != 0 || st.Text() != "" {
		t.Fatalf("empty stream: %v, %d calls, %q", err, st.Calls(), st.Text())
	}
	st.Reset(0)
	if err := st.Accept(make([]float32, 81)); !errors.Is(err, ErrBatch) {
		t.Errorf("ragged frames: %v", err)
	}
	for _, L := range []int{1, 7, 8, 9, 16, 17} {
		st.Reset(0)
		fr := make([]float32, L*80)
		for i := range fr {
			fr[i] = silence
		}
		acceptAll(t, st, fr)
		if want := int64((L + 7) / 8); st.Calls() != want || st.Frames() != int64(L) {
			t.Errorf("%d frames: %d calls, want %d", L, st.Calls(), want)
		}
		if st.Text() != "" {
			t.Errorf("silence decoded as %q", st.Text())
		}
	}
}

func TestRunErrors(t *testing.T) {
	_, m := openTone(t)
	_, other := openTone(t)
	st := m.NewStreamState()
	x := make([]float32, 8*80)
	if _, err := m.Run(x, nil); !errors.Is(err, ErrBatch) {
		t.Errorf("no streams: %v", err)
	}
	if _, err := m.Run(x[:10], []*StreamState{st}); !errors.Is(err, ErrBatch) {
		t.Errorf("short x: %v", err)
	}
	if _, err := m.Run(x, []*StreamState{other.NewStreamState()}); !errors.Is(err, ErrBatch) {
		t.Errorf("foreign state: %v", err)
	}
	if _, err := m.Run(x, []*StreamState{st}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run(x, []*StreamState{st}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewModelDevice(t *testing.T) {
	b, err := OpenBundle(toneDir())
	if err != nil {
		t.Fatal(err)
	}
	// The CPU build of ONNX Runtime that CI uses has no CUDA provider: the
	// CUDA path must fail with ErrDevice (the daemon then falls back to the
	// CPU), naming the device.
	for _, dev := range []string{"cuda:0", "cuda", "cuda:x", "tpu"} {
		_, err := NewModel(b, Options{Device: dev})
		if !errors.Is(err, ErrDevice) || !strings.Contains(err.Error(), dev) {
			t.Errorf("device %q: %v", dev, err)
		}
		t.Logf("device %q: %v", dev, err)
	}
	m, err := NewModel(b, Options{Device: "CPU", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := NewModel(&Bundle{}, Options{}); err == nil {
		t.Error("NewModel accepted an unopened bundle")
	}
}

// Concurrent Runs on one Model are serialised and stay correct.
func TestRunConcurrent(t *testing.T) {
	_, m := openTone(t)
	s := spell(t, "hi", 4, 23, 11, 12, 10)
	want := decodeChunks(t, m, s, false)
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := m.NewStreamer(0)
			if err := st.Accept(s.frames); err == nil && st.Finish() == nil {
				got[i] = st.Text()
			}
		}()
	}
	wg.Wait()
	for i, g := range got {
		if g != want || g != "hi" {
			t.Errorf("goroutine %d: %q, want %q", i, g, want)
		}
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
