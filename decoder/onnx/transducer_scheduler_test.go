package onnx

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/transducer"
)

// tdStream is one stream of the transducer scheduler test and its solo run.
type tdStream struct {
	frames []float32 // [L][F]
	anchor int64
	tokens []int
	times  []int64 // output frame of each token
	words  []decoder.Word
	calls  int64
}

// tdResult is what a scheduled stream decoded.
type tdResult struct {
	tokens []int
	times  []int64
	words  []decoder.Word
	calls  int64
	err    error
}

// tdCase is a transducer fixture and how to make its utterances.
type tdCase struct {
	name string
	open func(t *testing.T) *TransducerModel
	say  func(t *testing.T, seed uint64, lead, tail int, names []string) []float32
	// script is the sound sequence every utterance is cut from.
	script []string
}

func tdCases() []tdCase {
	icefall := func(method string) func(t *testing.T) *TransducerModel {
		return func(t *testing.T) *TransducerModel {
			return openFamily(t, FamilyZipformer2, transducer.Options{Method: method})
		}
	}
	sayIcefall := func(t *testing.T, seed uint64, lead, tail int, names []string) []float32 {
		return say(t, seed, lead, tail, names...).frames
	}
	return []tdCase{
		{name: "zipformer2/greedy", open: icefall(transducer.Greedy), say: sayIcefall, script: sentence},
		{name: "zipformer2/modified_beam", open: icefall(transducer.ModifiedBeam), say: sayIcefall, script: sentence},
		{
			name: "nemo_transducer/greedy",
			open: func(t *testing.T) *TransducerModel { return openFamily(t, FamilyNeMoTransducer, transducer.Options{}) },
			say: func(t *testing.T, seed uint64, lead, tail int, names []string) []float32 {
				return sayNeMo(t, 80, seed, lead, tail, names...).frames
			},
			script: nemoSentence,
		},
	}
}

// tdStreams makes n utterances of different lengths (a rotation of the
// case's script, 3 to 15 sounds) and decodes each alone, in ragged pieces,
// through TransducerModel.NewStreamer: the reference for batching.
func tdStreams(t *testing.T, c tdCase, m *TransducerModel, n int) []tdStream {
	t.Helper()
	F := m.Params().FeatureDim
	out := make([]tdStream, n)
	for i := range out {
		sc := append(slices.Clone(c.script[i%len(c.script):]), c.script[:i%len(c.script)]...)
		sc = sc[:3+(i*5)%13]
		ts := tdStream{frames: c.say(t, uint64(60+i), 16+7*i, 10+11*(i%4), sc), anchor: 700_000 + int64(i)*98_765}
		st, err := m.NewStreamer(ts.anchor)
		if err != nil {
			t.Fatal(err)
		}
		mustFeed(t, st, ts.frames, F, randomPieces(uint64(i), 3, 60))
		if len(st.Search().Tokens()) == 0 {
			t.Fatalf("solo stream %d decoded nothing", i)
		}
		ts.tokens, ts.times, ts.words, ts.calls = st.Search().Tokens(), st.Search().TokenFrames(), st.Words(), st.Calls()
		out[i] = ts
	}
	return out
}

// Transducer streams of different lengths, joining and leaving at
// different times and fed in random pieces, get through a
// TransducerScheduler exactly the tokens, token times and words of their
// solo runs: icefall zipformer2 with greedy and modified beam search, and
// a NeMo FastConformer transducer.
func TestTransducerSchedulerExact(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, c := range tdCases() {
		t.Run(c.name, func(t *testing.T) {
			m := c.open(t)
			all := tdStreams(t, c, m, 17)
			p := m.Params()
			for _, n := range []int{1, 3, 17} {
				for _, mb := range []int{4, 16} {
					t.Run(fmt.Sprintf("streams=%d/max=%d", n, mb), func(t *testing.T) {
						checkTransducerScheduler(t, m, all[:n], mb, p.ChunkFrames, p.FeatureDim)
					})
				}
			}
		})
	}
}

func checkTransducerScheduler(t *testing.T, m *TransducerModel, streams []tdStream, mb, T, F int) {
	n := len(streams)
	var sizes batchSizes
	s := NewTransducerScheduler(m, SchedulerOptions{MaxBatch: mb, OnBatch: func(k int, d time.Duration) {
		sizes.add(k)
		if d <= 0 {
			t.Errorf("OnBatch duration %v", d)
		}
	}})
	defer s.Close()
	got := make([]tdResult, n)
	runJoined(n, func(i int, first func()) {
		st, err := s.NewStreamer(streams[i].anchor)
		if err != nil {
			got[i].err = err
			return
		}
		defer st.Close()
		// Random pieces of up to 3 windows.
		if got[i].err = feedFrames(st, streams[i].frames, F, randomPieces(uint64(i), 7, 3*T), first); got[i].err == nil {
			got[i] = tdResult{tokens: st.Search().Tokens(), times: st.Search().TokenFrames(), words: st.Words(), calls: st.Calls()}
		}
	})
	var total int64
	for i, ts := range streams {
		g := got[i]
		if g.err != nil {
			t.Fatalf("stream %d: %v", i, g.err)
		}
		if !reflect.DeepEqual(g.tokens, ts.tokens) || !reflect.DeepEqual(g.times, ts.times) {
			t.Errorf("stream %d: scheduled %v at %v, solo %v at %v", i, g.tokens, g.times, ts.tokens, ts.times)
		}
		checkWordsClose(t, fmt.Sprintf("stream %d (scheduled against solo)", i), g.words, ts.words)
		if g.calls != ts.calls {
			t.Errorf("stream %d: %d calls, solo %d", i, g.calls, ts.calls)
		}
		total += ts.calls
	}
	s.Close() // the last OnBatch has returned
	st := s.Stats()
	sizes.check(t, st, mb, n, total)
	if st.RunTime <= 0 || st.SearchTime <= 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("%+v, batch sizes %v", st, sizes.n)
}

// States left in the encoder's tensors between calls (stateHome.stay, as
// the schedulers' streams) give exactly what states copied back after
// every call give, whatever the batches' sizes, members and order, across
// a Reset of a resident state; flushing puts the same values back into the
// stream's buffers.
func TestStateSlabs(t *testing.T) {
	for _, c := range tdCases() {
		if c.name == "zipformer2/modified_beam" {
			continue // the same encoder as greedy
		}
		t.Run(c.name, func(t *testing.T) {
			m, m2 := c.open(t), c.open(t) // m2 runs the copied states
			p := m.Params()
			w := p.ChunkFrames * p.FeatureDim
			u := c.say(t, 5, 16, 300, c.script)
			L := len(u) / p.FeatureDim
			const k = 5
			stay, copied := make([]*EncoderState, k), make([]*EncoderState, k)
			for i := range k {
				stay[i], copied[i] = m.NewEncoderState(), m2.NewEncoderState()
				stay[i].home.stay = true
			}
			rng := rand.New(rand.NewPCG(9, 9))
			pos := make([]int, k)
			inPlace := 0
			var idx []int
			for call := range 60 {
				// Every 4 calls a random batch in random order, then 3
				// calls with its members sorted: the last 2 find their
				// states in place.
				if call%4 == 0 {
					idx = rng.Perm(k)[:1+rng.IntN(k)]
				} else {
					slices.Sort(idx)
				}
				x := make([]float32, 0, len(idx)*w)
				for _, i := range idx {
					off := (pos[i] % (L - p.ChunkFrames)) * p.FeatureDim
					pos[i] += p.ChunkShift
					x = append(x, u[off:off+w]...)
				}
				a, b := pick(stay, idx), pick(copied, idx)
				for j, st := range a {
					if st.home.io != nil && st.home.io.n == len(a) && st.home.slot == j {
						inPlace++
					}
				}
				if _, err := m.RunEncoder(x, a); err != nil {
					t.Fatal(err)
				}
				if _, err := m2.RunEncoder(x, b); err != nil {
					t.Fatal(err)
				}
				for j := range idx {
					if !reflect.DeepEqual(a[j].out, b[j].out) {
						t.Fatalf("call %d (streams %v): stream %d's output differs with its state left in place", call, idx, idx[j])
					}
				}
				if call == 40 {
					r := idx[0]
					if stay[r].home.io == nil {
						t.Fatalf("call %d: stream %d's state is not resident", call, r)
					}
					stay[r].Reset()
					copied[r].Reset()
					if stay[r].home.io != nil || slices.ContainsFunc(stay[r].f32[0], func(v float32) bool { return v != 0 }) {
						t.Fatal("Reset left the state resident or not zero")
					}
				}
			}
			if inPlace < 20 {
				t.Errorf("only %d stream-calls found their state in place", inPlace)
			}
			m.mu.Lock()
			for i := range k {
				m.enc.flush(&stay[i].home)
			}
			m.mu.Unlock()
			for i := range k {
				if !reflect.DeepEqual(stay[i].f32, copied[i].f32) || !reflect.DeepEqual(stay[i].i64, copied[i].i64) {
					t.Errorf("stream %d: flushed state differs from the copied one", i)
				}
			}
		})
	}
}

func pick(sts []*EncoderState, idx []int) []*EncoderState {
	out := make([]*EncoderState, len(idx))
	for j, i := range idx {
		out[j] = sts[i]
	}
	return out
}

// The batch queue's defaults and limits (TestBatchQueueOptions) apply with
// the model's own batch limit.
func TestTransducerSchedulerOptions(t *testing.T) {
	m := openFamily(t, FamilyZipformer2, transducer.Options{})
	if s := newTransducerScheduler(m, SchedulerOptions{MaxBatch: 5}); s.MaxBatch() != 5 || s.Model() != m {
		t.Errorf("max batch %d", s.MaxBatch())
	}
	fixed := &TransducerModel{p: TransducerParams{MaxBatch: 1}}
	if s := newTransducerScheduler(fixed, SchedulerOptions{MaxBatch: 8}); s.MaxBatch() != 1 {
		t.Errorf("a one-stream model gets batches of %d", s.MaxBatch())
	}
}

// Close fails a chunk waiting for a batch and every later call with
// ErrClosed and leaves no goroutine behind; a model error reaches the
// stream; closing a streamer frees its place.
func TestTransducerSchedulerClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m := openFamily(t, FamilyZipformer2, transducer.Options{})
	p := m.Params()
	chunk := padChunk(p.ChunkFrames, p.FeatureDim, p.PadValue)

	t.Run("waiting for a batch", func(t *testing.T) {
		s := newTransducerScheduler(m, SchedulerOptions{Wait: time.Hour})
		waiting := make(chan struct{})
		s.after = func(time.Duration) <-chan time.Time { close(waiting); return nil }
		go s.loop()
		a, _ := s.NewStreamer(0)
		b, _ := s.NewStreamer(0)
		if st := s.Stats(); st.ActiveStreams != 2 {
			t.Errorf("stats %+v", st)
		}
		checkClosedWhileWaiting(t, a, b, chunk, waiting, s.Close, func() error { _, err := s.NewStreamer(0); return err })
		a.Close()
		b.Close()
		b.Close()
		if st := s.Stats(); st.ActiveStreams != 0 || st.Calls != 0 {
			t.Errorf("stats %+v", st)
		}
		s.Close() // twice is fine
	})

	t.Run("streamer closed", func(t *testing.T) {
		s := NewTransducerScheduler(m, SchedulerOptions{})
		defer s.Close()
		st, _ := s.NewStreamer(0)
		if err := st.Accept(chunk); err != nil {
			t.Fatal(err)
		}
		if st.st.home.io == nil {
			t.Error("a scheduled stream's state is not left in place")
		}
		st.Close()
		if st.st.home.io != nil {
			t.Error("Close left the state resident")
		}
		if err := st.Accept(chunk); !errors.Is(err, ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if s.Stats().ActiveStreams != 0 || s.Stats().Calls != 1 {
			t.Errorf("stats %+v", s.Stats())
		}
	})

	t.Run("model closed", func(t *testing.T) {
		s := NewTransducerScheduler(m, SchedulerOptions{})
		defer s.Close()
		st, _ := s.NewStreamer(0)
		defer st.Close()
		m.Close()
		if err := st.Accept(chunk); !errors.Is(err, ErrClosed) {
			t.Errorf("Accept on a closed model: %v", err)
		}
		if s.Stats().Calls != 1 {
			t.Errorf("stats %+v", s.Stats())
		}
	})
}
