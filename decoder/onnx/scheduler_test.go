package onnx

import (
	"errors"
	"fmt"
	"math/rand/v2"
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
		if err := st.Accept(fr); err != nil {
			t.Fatal(err)
		}
		if err := st.Finish(); err != nil {
			t.Fatal(err)
		}
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
				var sizesMu sync.Mutex
				sizes := map[int]int64{}
				s := NewScheduler(m, SchedulerOptions{MaxBatch: mb, OnBatch: func(k int, _ time.Duration) {
					sizesMu.Lock()
					sizes[k]++
					sizesMu.Unlock()
				}})
				defer s.Close()
				got := make([][]decoder.Word, n)
				calls := make([]int64, n)
				errs := make([]error, n)
				// Stream i joins once stream i-1 has fed its first piece.
				joined := make([]chan struct{}, n)
				for i := range joined {
					joined[i] = make(chan struct{})
				}
				var wg sync.WaitGroup
				for i := range streams {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if i > 0 {
							<-joined[i-1]
						}
						signalled := false
						signal := func() {
							if !signalled {
								signalled = true
								close(joined[i])
							}
						}
						defer signal()
						errs[i] = feedPieces(s, streams[i], uint64(i), T, signal, &got[i], &calls[i])
					}()
				}
				wg.Wait()
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
				var fromHook, callsHook int64
				for k, c := range sizes {
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
				t.Logf("%+v, batch sizes %v", st, sizes)
			})
		}
	}
}

// feedPieces runs one stream through s in random pieces of up to 3 windows,
// calling first after the first piece.
func feedPieces(s *Scheduler, ts toneStream, seed uint64, T int, first func(), words *[]decoder.Word, calls *int64) error {
	st, err := s.NewStreamer(ts.anchor)
	if err != nil {
		return err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	L := len(ts.frames) / 80
	for from := 0; from < L; {
		to := min(L, from+1+rng.IntN(3*T))
		if err := st.Accept(ts.frames[from*80 : to*80]); err != nil {
			return err
		}
		first()
		from = to
	}
	if err := st.Finish(); err != nil {
		return err
	}
	*words, *calls = st.Words(), st.Calls()
	return nil
}

// The waiting policy, with the clock replaced: a batch waits only while it
// is smaller than min(MaxBatch, registered streams), and only until the
// wait has passed or a stream leaves.
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
	window := make([]float32, c.ChunkFrames*c.FeatureDim)
	for i := range window {
		window[i] = c.PadValue
	}
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
			sts := make([]*Streamer, tc.active)
			for i := range sts {
				var err error
				if sts[i], err = s.NewStreamer(0); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.Stats().ActiveStreams; got != tc.active {
				t.Fatalf("ActiveStreams %d, want %d", got, tc.active)
			}
			var sent []*request
			send := func(st *Streamer) {
				st.req.window = window
				s.reqs <- st.req
				sent = append(sent, st.req)
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
			for i, r := range sent {
				<-r.reply
				if r.err != nil || len(r.out) != c.OutFrames()*c.VocabSize {
					t.Fatalf("request %d: %v, %d log-probs", i, r.err, len(r.out))
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
			if !slices.Equal(got, tc.want) || nwaits != tc.wantWaits {
				t.Errorf("batches %v with %d waits, want %v with %d", got, nwaits, tc.want, tc.wantWaits)
			}
			if st := s.Stats(); st.ActiveStreams != tc.active-tc.leave || st.MaxBatchSeen != slices.Max(tc.want) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestSchedulerOptionsDefaults(t *testing.T) {
	_, m := openTone(t)
	fixed := &Model{c: Contract{MaxBatch: 1}}
	tests := []struct {
		m         *Model
		opts      SchedulerOptions
		max, cap_ int
		wait      time.Duration
	}{
		{m, SchedulerOptions{}, DefaultMaxBatch, 2 * DefaultMaxBatch, DefaultBatchWait},
		{m, SchedulerOptions{MaxBatch: -3, Wait: -1}, DefaultMaxBatch, 2 * DefaultMaxBatch, -1},
		{m, SchedulerOptions{MaxBatch: 5, Wait: time.Second}, 5, 10, time.Second},
		{fixed, SchedulerOptions{MaxBatch: 8}, 1, 2, DefaultBatchWait},
		{fixed, SchedulerOptions{}, 1, 2, DefaultBatchWait},
	}
	for i, tc := range tests {
		s := newScheduler(tc.m, tc.opts)
		if s.MaxBatch() != tc.max || cap(s.reqs) != tc.cap_ || s.wait != tc.wait || s.Model() != tc.m {
			t.Errorf("case %d: max %d, queue %d, wait %v", i, s.MaxBatch(), cap(s.reqs), s.wait)
		}
	}
}

// Close fails the chunks waiting for a batch, the chunks queued behind a
// busy model call and the callers blocked on the full queue with ErrClosed,
// and leaves no goroutine behind.
func TestSchedulerClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	_, m := openTone(t)
	c := m.Contract()
	chunk := make([]float32, c.ChunkFrames*c.FeatureDim)
	for i := range chunk {
		chunk[i] = c.PadValue
	}

	t.Run("waiting for a batch", func(t *testing.T) {
		s := newScheduler(m, SchedulerOptions{Wait: time.Hour})
		waiting := make(chan struct{})
		s.after = func(time.Duration) <-chan time.Time { close(waiting); return nil }
		go s.loop()
		a, _ := s.NewStreamer(0)
		b, _ := s.NewStreamer(0) // registered, never ready: a waits for it
		errc := make(chan error)
		go func() { errc <- a.Accept(chunk) }()
		<-waiting
		s.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("pending Accept: %v", err)
		}
		if err := b.Accept(chunk); !errors.Is(err, ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if err := b.Finish(); !errors.Is(err, ErrClosed) {
			t.Errorf("Finish after Close: %v", err)
		}
		if _, err := s.NewStreamer(0); !errors.Is(err, ErrClosed) {
			t.Errorf("NewStreamer after Close: %v", err)
		}
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
	st.Close()
	st.Close()
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
