package onnx

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Scheduler defaults.
const (
	// DefaultMaxBatch is the batch size limit when SchedulerOptions.MaxBatch is 0.
	DefaultMaxBatch = 16
	// DefaultBatchWait is the longest wait for more streams when
	// SchedulerOptions.Wait is 0.
	DefaultBatchWait = 10 * time.Millisecond
)

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// MaxBatch is the most streams run in one model call: 0 (or less) means
	// DefaultMaxBatch; it is capped by the model's Contract().MaxBatch when
	// that is set.
	MaxBatch int
	// Wait is the longest time the scheduler waits for more streams once one
	// is ready: 0 means DefaultBatchWait, a negative value never waits.
	Wait time.Duration
	// OnBatch, when set, is called by the scheduler's goroutine after each
	// model call with its batch size and duration (for metrics). It must not
	// block for long: every stream waits for it.
	OnBatch func(n int, d time.Duration)
}

// SchedulerStats are a Scheduler's counters since it started.
type SchedulerStats struct {
	// Calls is the number of model calls made.
	Calls int64
	// Streams is the number of stream chunks run: the sum of the calls'
	// batch sizes. Streams / Calls is the mean batch size.
	Streams int64
	// MaxBatchSeen is the largest batch run.
	MaxBatchSeen int
	// ActiveStreams is the number of streamers registered now.
	ActiveStreams int
	// RunTime is the time spent in ONNX Runtime's Run, summed over the
	// calls (for a TransducerScheduler: the encoder's Run).
	RunTime time.Duration
	// OwnTime is the scheduler goroutine's own work, summed over the calls:
	// taking queued chunks, ordering the batch, stacking windows and states
	// (those left in place by the stream's previous call need no copy),
	// reading outputs back and scattering states; that is its time from a
	// gathered batch to the first reply, plus its non-blocking queue
	// drains, less RunTime (and, for a TransducerScheduler, less
	// SearchTime). Waiting for chunks and waking the streams (WakeTime) are
	// not in it. OwnTime / RunTime is the scheduler's overhead.
	OwnTime time.Duration
	// WakeTime is the time spent answering the streams of each batch, summed
	// over the calls: a reply readies the stream's goroutine, which may wake
	// an OS thread that takes the CPU from the scheduler's.
	WakeTime time.Duration
	// SearchTime is, for a TransducerScheduler, the time of the batched
	// search (decoder and joiner calls included), summed over the calls;
	// 0 for a Scheduler, whose streams search on their own goroutines.
	SearchTime time.Duration
}

// Scheduler owns a Model and batches the model calls of many streams: one
// goroutine takes a stream's chunk, gathers more, up to the batch limit,
// from the other streams that are ready, runs them in one Model call and
// hands each stream its log-probs.
//
// It knows how many streamers are registered (made by NewStreamer and not
// yet closed). Once a chunk is ready it waits for more only while the batch
// is smaller than both the batch limit and the number of registered streams,
// and the wait has not passed: a lone stream never waits, and streams that
// are all ready run together at once. A registered stream that is idle (its
// input stalled) therefore costs the others at most one wait per call; close
// streamers when their stream ends.
//
// Requests go through a queue of twice the batch limit; callers block while
// it is full. The Scheduler does not close the Model: close the Scheduler
// first, then the Model.
type Scheduler struct {
	m        *Model
	maxBatch int
	wait     time.Duration
	onBatch  func(int, time.Duration)
	// after starts the batch wait and returns the channel that fires when it
	// has passed; only the loop calls it. Tests replace it.
	after func(time.Duration) <-chan time.Time
	timer *time.Timer

	reqs      chan *request
	wake      chan struct{} // a stream left: recheck the batch target
	done      chan struct{} // closed by Close
	exited    chan struct{} // closed when the loop has returned
	closeOnce sync.Once

	active  atomic.Int64
	calls   atomic.Int64
	streams atomic.Int64
	maxSeen atomic.Int64
	seq     atomic.Uint64 // numbers the streamers, the order of a batch
	runNs   atomic.Int64
	ownNs   atomic.Int64
	wakeNs  atomic.Int64
	drained time.Duration // time in drain since the last call; the loop's own
}

// request is one stream's pending chunk. Each Streamer reuses its own.
type request struct {
	seq    uint64 // the streamer's number: batches run in this order
	st     *StreamState
	window []float32     // T·F feature values
	reply  chan struct{} // capacity 1: out and err are set
	out    []float32     // the stream's log-probs (owned by st)
	err    error
}

// NewScheduler starts a scheduler goroutine for m (not nil). Close stops it.
func NewScheduler(m *Model, opts SchedulerOptions) *Scheduler {
	s := newScheduler(m, opts)
	go s.loop()
	return s
}

// newScheduler builds a Scheduler without starting its goroutine.
func newScheduler(m *Model, opts SchedulerOptions) *Scheduler {
	mb := opts.MaxBatch
	if mb <= 0 {
		mb = DefaultMaxBatch
	}
	if c := m.Contract().MaxBatch; c > 0 {
		mb = min(mb, c)
	}
	wait := opts.Wait
	if wait == 0 {
		wait = DefaultBatchWait
	}
	s := &Scheduler{
		m:        m,
		maxBatch: mb,
		wait:     wait,
		onBatch:  opts.OnBatch,
		reqs:     make(chan *request, 2*mb),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
	}
	s.after = func(d time.Duration) <-chan time.Time {
		if s.timer == nil {
			s.timer = time.NewTimer(d)
		} else {
			s.timer.Reset(d) // Go ≥ 1.23: no stale tick survives Reset
		}
		return s.timer.C
	}
	return s
}

// Model returns the scheduler's model.
func (s *Scheduler) Model() *Model { return s.m }

// MaxBatch returns the effective batch size limit.
func (s *Scheduler) MaxBatch() int { return s.maxBatch }

// NewStreamer starts a stream, like Model.NewStreamer, whose model calls go
// through the scheduler. It counts as active until its Close. It fails with
// ErrClosed after Close.
func (s *Scheduler) NewStreamer(anchor int64) (*Streamer, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	st, err := s.m.NewStreamer(anchor)
	if err != nil {
		return nil, err
	}
	st.sched = s
	st.st.home.stay = true // between calls, the state stays in the model's tensors
	st.req = &request{seq: s.seq.Add(1), st: st.st, reply: make(chan struct{}, 1)}
	s.active.Add(1)
	return st, nil
}

// leave unregisters a streamer and lets a waiting batch recheck its target.
func (s *Scheduler) leave() {
	s.active.Add(-1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops the scheduler's goroutine and waits for it; a model call in
// progress completes first. Chunks still pending and all later calls fail
// with ErrClosed. It is safe to call more than once.
func (s *Scheduler) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	<-s.exited
}

func (s *Scheduler) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() SchedulerStats {
	return SchedulerStats{
		Calls:         s.calls.Load(),
		Streams:       s.streams.Load(),
		MaxBatchSeen:  int(s.maxSeen.Load()),
		ActiveStreams: int(s.active.Load()),
		RunTime:       time.Duration(s.runNs.Load()),
		OwnTime:       time.Duration(s.ownNs.Load()),
		WakeTime:      time.Duration(s.wakeNs.Load()),
	}
}

// do queues one chunk and waits for its log-probs.
func (s *Scheduler) do(r *request, window []float32) ([]float32, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	r.window, r.out, r.err = window, nil, nil
	select {
	case s.reqs <- r:
	case <-s.done:
		return nil, ErrClosed
	}
	select {
	case <-r.reply:
	case <-s.exited:
		// The loop may have answered just before it returned.
		select {
		case <-r.reply:
		default:
			return nil, ErrClosed
		}
	}
	r.window = nil
	return r.out, r.err
}

// loop is the scheduler's goroutine.
func (s *Scheduler) loop() {
	defer close(s.exited)
	defer func() {
		if s.timer != nil {
			s.timer.Stop()
		}
	}()
	batch := make([]*request, 0, s.maxBatch)
	states := make([]*StreamState, 0, s.maxBatch)
	for {
		if s.isClosed() { // Close wins over queued chunks
			return
		}
		select {
		case <-s.done:
			return
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		}
		var ok bool
		if batch, ok = s.gather(batch); !ok {
			for _, r := range batch {
				r.err = ErrClosed
				r.reply <- struct{}{}
			}
			return
		}
		s.run(batch, states)
	}
}

// target is the batch size worth waiting for.
func (s *Scheduler) target() int {
	return min(s.maxBatch, int(s.active.Load()))
}

// gather adds ready chunks to batch (which holds one) until it reaches the
// target or the wait, started at the first chunk, has passed. It returns
// false when the scheduler was closed meanwhile.
func (s *Scheduler) gather(batch []*request) ([]*request, bool) {
	var timeout <-chan time.Time
	started := false
	for {
		batch = s.drain(batch)
		if len(batch) >= s.target() || s.wait < 0 {
			return batch, true
		}
		if !started {
			timeout, started = s.after(s.wait), true
		}
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.wake:
		case <-timeout:
			return batch, true
		case <-s.done:
			return batch, false
		}
	}
}

// drain adds the chunks already queued, up to the batch limit.
func (s *Scheduler) drain(batch []*request) []*request {
	t0 := time.Now()
	defer func() { s.drained += time.Since(t0) }()
	for len(batch) < s.maxBatch {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// run makes one model call for the batch and answers every request.
func (s *Scheduler) run(batch []*request, states []*StreamState) {
	t0 := time.Now()
	n := len(batch)
	// The same streams in the same order find their states in place.
	slices.SortFunc(batch, func(a, b *request) int { return cmp.Compare(a.seq, b.seq) })
	states = states[:0]
	for _, r := range batch {
		states = append(states, r.st)
	}
	w := s.m.c.ChunkFrames * s.m.c.FeatureDim
	start := time.Now()
	outs, ran, err := s.m.run(states, func(x []float32) {
		for i, r := range batch {
			copy(x[i*w:(i+1)*w], r.window)
		}
	})
	d := time.Since(start)
	s.calls.Add(1)
	s.streams.Add(int64(n))
	for seen := s.maxSeen.Load(); int64(n) > seen && !s.maxSeen.CompareAndSwap(seen, int64(n)); {
		seen = s.maxSeen.Load()
	}
	t1 := time.Now()
	for i, r := range batch {
		if err == nil {
			r.out = outs[i]
		}
		r.err = err
		r.reply <- struct{}{}
	}
	s.wakeNs.Add(int64(time.Since(t1)))
	s.runNs.Add(int64(ran))
	s.ownNs.Add(int64(t1.Sub(t0) - ran + s.drained))
	s.drained = 0
	if s.onBatch != nil {
		s.onBatch(n, d)
	}
}
