package onnx

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/features"
	"github.com/subtitled/subtitled/tools/tonegen"
)

// schedTexts are the sentences of the exactness test, of different lengths.
var schedTexts = []string{
	"hi", "hello world", "batch axes", "don't wait", "a", "state matters",
	"one model many streams", "go", "join and leave", "cat", "scheduler",
	"exact as solo", "tone", "zebra quiz", "it's late", "jump", "the last one is long",
}

// toneStream is real tone audio for one text, as fbank frames.
type toneStream struct {
	text   string
	anchor int64
	frames []float32 // [L][80]
	words  []decoder.Word
	calls  int64
}

// toneStreams synthesises the first n texts, computes their features and
// decodes each alone through Model.NewStreamer, the reference for batching.
func toneStreams(t *testing.T, m *Model, n int) []toneStream {
	t.Helper()
	tab, err := tonegen.Load(filepath.Join(toneDir(), "tones.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]toneStream, n)
	for i := range out {
		text := schedTexts[i]
		sp, err := tab.Spell(text, 16000, 0.1+0.07*float64(i))
		if err != nil {
			t.Fatal(err)
		}
		fr, _, err := features.Compute(features.KaldiOptions(80), sp.Samples)
		if err != nil {
			t.Fatal(err)
		}
		ts := toneStream{text: text, anchor: 900_000 + int64(i)*123_457, frames: fr}
		st, err := m.NewStreamer(ts.anchor)
		if err != nil {
			t.Fatal(err)
		}
		acceptAll(t, st, fr)
		if st.Text() != text {
			t.Fatalf("solo stream %d: %q, want %q", i, st.Text(), text)
		}
		ts.words, ts.calls = st.Words(), st.Calls()
		out[i] = ts
	}
	return out
}

// Streams of different lengths, joining and leaving at different times and
// fed in random pieces, get through a Scheduler exactly the words and word
// times of their solo runs.
func TestSchedulerExact(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	_, m := openTone(t)
	all := toneStreams(t, m, len(schedTexts))
	T := m.Contract().ChunkFrames
	for _, n := range []int{1, 3, 17} {
		for _, mb := range []int{4, 16} {
			t.Run(fmt.Sprintf("streams=%d/max=%d", n, mb), func(t *testing.T) {
				streams := all[:n]
				var sizes batchSizes
				s := NewScheduler(m, SchedulerOptions{MaxBatch: mb, OnBatch: func(k int, _ time.Duration) { sizes.add(k) }})
				defer s.Close()
				got := make([][]decoder.Word, n)
				calls := make([]int64, n)
				errs := make([]error, n)
				runJoined(n, func(i int, first func()) {
					st, err := s.NewStreamer(streams[i].anchor)
					if err != nil {
						errs[i] = err
						return
					}
					defer st.Close()
					// Random pieces of up to 3 windows.
					if errs[i] = feedFrames(st, streams[i].frames, 80, randomPieces(uint64(i), 7, 3*T), first); errs[i] == nil {
						got[i], calls[i] = st.Words(), st.Calls()
					}
				})
				var total int64
				for i, ts := range streams {
					if errs[i] != nil {
						t.Fatalf("stream %d: %v", i, errs[i])
					}
					if !reflect.DeepEqual(got[i], ts.words) {
						t.Errorf("stream %d (%q): words\n%+v\nwant (solo)\n%+v", i, ts.text, got[i], ts.words)
					}
					if calls[i] != ts.calls {
						t.Errorf("stream %d: %d calls, solo %d", i, calls[i], ts.calls)
					}
					total += ts.calls
				}
				s.Close() // the last OnBatch has returned
				st := s.Stats()
				sizes.check(t, st, mb, n, total)
				t.Logf("%+v, batch sizes %v", st, sizes.n)
			})
		}
	}
}

// runJoined runs run(i, first) for streams 0..n-1, each on its own
// goroutine: stream i starts once stream i-1 has called first (or
// returned). It returns when every run has.
func runJoined(n int, run func(i int, first func())) {
	joined := make([]chan struct{}, n)
	for i := range joined {
		joined[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				<-joined[i-1]
			}
			var once sync.Once
			first := func() { once.Do(func() { close(joined[i]) }) }
			defer first()
			run(i, first)
		}()
	}
	wg.Wait()
}

// batchSizes counts the batch sizes an OnBatch hook reports.
type batchSizes struct {
	mu sync.Mutex
	n  map[int]int64
}

func (b *batchSizes) add(k int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		b.n = map[int]int64{}
	}
	b.n[k]++
}

// check compares the counted batches with st, the stats of the closed
// scheduler that n streams making total stream-chunks went through with
// MaxBatch mb.
func (b *batchSizes) check(t *testing.T, st SchedulerStats, mb, n int, total int64) {
	t.Helper()
	var fromHook, callsHook int64
	for k, c := range b.n {
		if k < 1 || k > mb {
			t.Errorf("batch of %d with MaxBatch %d", k, mb)
		}
		fromHook += int64(k) * c
		callsHook += c
	}
	if st.Streams != total || fromHook != total || st.Calls != callsHook {
		t.Errorf("stats %+v, OnBatch saw %d calls of %d stream-chunks, streams made %d", st, callsHook, fromHook, total)
	}
	if st.ActiveStreams != 0 || st.MaxBatchSeen > mb || st.MaxBatchSeen < 1 {
		t.Errorf("stats %+v", st)
	}
	if n == 17 && st.MaxBatchSeen < 2 {
		t.Errorf("17 streams never shared a call: %+v", st)
	}
}

// padChunk is a window of frames × bins pad values.
func padChunk(frames, bins int, pad float32) []float32 {
	w := make([]float32, frames*bins)
	for i := range w {
		w[i] = pad
	}
	return w
}

// The waiting policy (batchQueue's, which TransducerScheduler shares), with
// the clock replaced: a batch waits only while it is smaller than
// min(MaxBatch, registered streams), and only until the wait has passed or
// a stream leaves.
func TestSchedulerWaitPolicy(t *testing.T) {
	tests := []struct {
		name      string
		maxBatch  int
		wait      time.Duration
		active    int // registered streamers
		queued    int // chunks queued before the loop starts
		later     int // chunks that arrive while the batch waits
		leave     int // idle streamers closed while the batch waits
		want      []int
		wantWaits int
	}{
		{name: "lone stream never waits", maxBatch: 16, active: 1, queued: 1, want: []int{1}},
		{name: "all ready go together", maxBatch: 16, active: 5, queued: 5, want: []int{5}},
		{name: "limit below active", maxBatch: 2, active: 5, queued: 2, want: []int{2}},
		{name: "limit splits, rest waits", maxBatch: 4, active: 6, queued: 6, want: []int{4, 2}, wantWaits: 1},
		{name: "full batches need no wait", maxBatch: 4, active: 9, queued: 8, want: []int{4, 4}},
		{name: "waits for the missing stream", maxBatch: 16, active: 3, queued: 2, later: 1, want: []int{3}, wantWaits: 1},
		{name: "waits for two, one at a time", maxBatch: 16, active: 4, queued: 2, later: 2, want: []int{4}, wantWaits: 1},
		{name: "wait passes", maxBatch: 16, active: 3, queued: 2, want: []int{2}, wantWaits: 1},
		{name: "idle stream leaves", maxBatch: 16, active: 3, queued: 2, leave: 1, want: []int{2}, wantWaits: 1},
		{name: "negative wait never waits", maxBatch: 16, wait: -1, active: 3, queued: 2, want: []int{2}},
	}
	_, m := openTone(t)
	c := m.Contract()
	window := padChunk(c.ChunkFrames, c.FeatureDim, c.PadValue)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			sizes := make(chan int, 16)
			s := newScheduler(m, SchedulerOptions{MaxBatch: tc.maxBatch, Wait: tc.wait,
				OnBatch: func(n int, _ time.Duration) { sizes <- n }})
			waits := make(chan time.Duration, 16)
			s.after = func(d time.Duration) <-chan time.Time {
				waits <- d
				// The wait passes at once unless chunks arrive or streams
				// leave during it: a wrong wait shows in the count, not as
				// a hang.
				if tc.later == 0 && tc.leave == 0 {
					ch := make(chan time.Time, 1)
					ch <- time.Time{}
					return ch
				}
				return nil // never passes
			}
			sts := streamers(t, tc.active, s.NewStreamer)
			if got := s.Stats().ActiveStreams; got != tc.active {
				t.Fatalf("ActiveStreams %d, want %d", got, tc.active)
			}
			var sent []*Streamer
			send := func(st *Streamer) {
				st.win = window
				if !s.submit(st) {
					t.Fatal("submit failed")
				}
				sent = append(sent, st)
			}
			for _, st := range sts[:tc.queued] {
				send(st)
			}
			go s.loop()
			defer s.Close()
			nwaits := 0
			if tc.later > 0 || tc.leave > 0 {
				select {
				case d := <-waits:
					if d != s.wait {
						t.Errorf("waited %v, want %v", d, s.wait)
					}
				case n := <-sizes:
					t.Fatalf("a batch of %d ran without waiting", n)
				}
				nwaits++
				for _, st := range sts[tc.queued : tc.queued+tc.later] {
					send(st)
				}
				for _, st := range sts[tc.queued+tc.later : tc.queued+tc.later+tc.leave] {
					st.Close()
				}
			}
			for i, st := range sent {
				if err := <-st.reply; err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
				// The call wrote a log-softmax row: it sums to 1.
				sum := 0.0
				for _, lp := range st.st.logProbs[:c.VocabSize] {
					sum += math.Exp(float64(lp))
				}
				if math.Abs(sum-1) > 1e-4 {
					t.Fatalf("stream %d: first row of log-probs sums to %g", i, sum)
				}
			}
			var got []int
			for range tc.want {
				got = append(got, <-sizes)
			}
			s.Close()
			nwaits += len(waits)
			if len(sizes) > 0 {
				got = append(got, <-sizes)
			}
			if s.submit(sts[0]) {
				t.Error("submit after Close")
			}
			if !slices.Equal(got, tc.want) || nwaits != tc.wantWaits {
				t.Errorf("batches %v with %d waits, want %v with %d", got, nwaits, tc.want, tc.wantWaits)
			}
			if st := s.Stats(); st.ActiveStreams != tc.active-tc.leave || st.MaxBatchSeen != slices.Max(tc.want) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// The batch queue's defaults and limits (TestBatchQueueOptions) apply with
// the model's own batch limit.
func TestSchedulerOptionsDefaults(t *testing.T) {
	_, m := openTone(t)
	if s := newScheduler(m, SchedulerOptions{MaxBatch: 5}); s.MaxBatch() != 5 || s.Model() != m {
		t.Errorf("max batch %d", s.MaxBatch())
	}
	if s := newScheduler(&Model{c: Contract{MaxBatch: 1}}, SchedulerOptions{MaxBatch: 8}); s.MaxBatch() != 1 {
		t.Errorf("a one-stream model gets batches of %d", s.MaxBatch())
	}
}

// Close fails the chunks waiting for a batch, the chunks queued behind a
// busy model call and the callers blocked on the full queue with ErrClosed,
// and leaves no goroutine behind.
func TestSchedulerClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	_, m := openTone(t)
	c := m.Contract()
	chunk := padChunk(c.ChunkFrames, c.FeatureDim, c.PadValue)

	t.Run("waiting for a batch", func(t *testing.T) {
		s := newScheduler(m, SchedulerOptions{Wait: time.Hour})
		waiting := make(chan struct{})
		s.after = func(time.Duration) <-chan time.Time { close(waiting); return nil }
		go s.loop()
		a, _ := s.NewStreamer(0)
		b, _ := s.NewStreamer(0)
		checkClosedWhileWaiting(t, a, b, chunk, waiting, s.Close, func() error { _, err := s.NewStreamer(0); return err })
		a.Close()
		b.Close()
		s.Close() // twice is fine
	})

	t.Run("queued and blocked", func(t *testing.T) {
		release := make(chan struct{})
		s := NewScheduler(m, SchedulerOptions{MaxBatch: 1, OnBatch: func(int, time.Duration) { <-release }})
		sts := make([]*Streamer, 4)
		for i := range sts {
			sts[i], _ = s.NewStreamer(0)
		}
		// The first call completes, then the loop is held in OnBatch.
		if err := sts[0].Accept(chunk); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 3)
		for _, st := range sts[1:] {
			go func() { errc <- st.Accept(chunk) }()
		}
		for len(s.reqs) < cap(s.reqs) { // two queued, the third blocks on the full queue
			runtime.Gosched()
		}
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		for !s.isClosed() {
			runtime.Gosched()
		}
		close(release)
		<-closed
		for range 3 {
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Errorf("queued Accept: %v", err)
			}
		}
		if st := s.Stats(); st.Calls != 1 || st.Streams != 1 || st.ActiveStreams != 4 {
			t.Errorf("stats %+v", st)
		}
		for _, st := range sts {
			st.Close()
		}
		if st := s.Stats(); st.ActiveStreams != 0 {
			t.Errorf("after closing the streamers: %+v", st)
		}
	})
}

// checkClosedWhileWaiting checks Close while a chunk waits for a batch: a's
// chunk is accepted on another goroutine and waits for b (registered, never
// ready) until waiting fires; then closeSched fails a's Accept, and b's
// Accept and Finish and newStreamer after it, with ErrClosed.
func checkClosedWhileWaiting(t *testing.T, a, b chunkSink, chunk []float32, waiting <-chan struct{}, closeSched func(), newStreamer func() error) {
	t.Helper()
	errc := make(chan error)
	go func() { errc <- a.Accept(chunk) }()
	<-waiting
	closeSched()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("pending Accept: %v", err)
	}
	if err := b.Accept(chunk); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if err := b.Finish(); !errors.Is(err, ErrClosed) {
		t.Errorf("Finish after Close: %v", err)
	}
	if err := newStreamer(); !errors.Is(err, ErrClosed) {
		t.Errorf("NewStreamer after Close: %v", err)
	}
}

// A model error reaches every stream of the batch.
func TestSchedulerModelClosed(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	_, m := openTone(t)
	s := NewScheduler(m, SchedulerOptions{})
	defer s.Close()
	st, _ := s.NewStreamer(0)
	defer st.Close()
	m.Close()
	if err := st.Accept(make([]float32, 8*80)); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept on a closed model: %v", err)
	}
	if s.Stats().Calls != 1 {
		t.Errorf("stats %+v", s.Stats())
	}
}

// Closing a streamer frees its place; without a scheduler Close does nothing.
func TestStreamerClose(t *testing.T) {
	_, m := openTone(t)
	s := spell(t, "hi", 4, 23, 11, 12, 10)
	direct, _ := m.NewStreamer(0)
	direct.Close()
	direct.Close()
	if err := direct.Accept(s.frames); err != nil {
		t.Fatal(err)
	}
	if err := direct.Finish(); err != nil || direct.Text() != "hi" {
		t.Fatalf("direct streamer after Close: %v %q", err, direct.Text())
	}

	sc := NewScheduler(m, SchedulerOptions{})
	defer sc.Close()
	st, _ := sc.NewStreamer(0)
	if sc.Stats().ActiveStreams != 1 {
		t.Fatalf("stats %+v", sc.Stats())
	}
	if err := st.Accept(s.frames); err != nil {
		t.Fatal(err)
	}
	home := &st.st.home
	if home.io == nil || home.io.members[home.slot] != home {
		t.Fatal("a scheduled stream's state is not left in place")
	}
	io, slot := home.io, home.slot
	st.Close()
	st.Close()
	if home.io != nil || io.members[slot] != nil {
		t.Error("Close left the state resident")
	}
	if sc.Stats().ActiveStreams != 0 {
		t.Fatalf("after Close: %+v", sc.Stats())
	}
	if err := st.Finish(); !errors.Is(err, ErrClosed) {
		t.Errorf("Finish after Close: %v", err)
	}
	if !strings.HasPrefix("hi", st.Text()) {
		t.Errorf("text %q", st.Text())
	}
}
