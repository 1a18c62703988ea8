package onnx

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ticket is a stream's place in a batchQueue: its number, which orders a
// batch, and the channel of its answer. A streamer embeds the one that
// batchQueue.join gives it.
type ticket struct {
	seq   uint64     // batches run in this order; 0: no scheduler
	reply chan error // capacity 1: the answer to the stream's request
}

func (t *ticket) place() *ticket { return t }

// queued is what a batchQueue carries: a streamer with its ticket.
type queued interface {
	place() *ticket
	// stateHome is where the stream's state lives between calls.
	stateHome() *stateHome
}

// batchTimes are the parts of one batch's model work, as its runner
// reports them.
type batchTimes struct {
	call   time.Duration // the model (encoder) call: stacking, Run, scattering; what OnBatch sees
	run    time.Duration // ONNX Runtime's Run
	search time.Duration // a batched search (TransducerScheduler); 0 otherwise
}

// batchQueue is the half of a batch scheduler that does not depend on the
// model it feeds: a bounded queue of pending requests (twice the batch
// limit), the count of registered streams, the waiting policy of
// Scheduler, the goroutine loop (serve) that hands each batch, ordered, to
// the scheduler's run function and answers its streams, and the counters
// of Stats. Scheduler and TransducerScheduler embed it (their MaxBatch,
// Close and Stats are its own); their streams call join, do and leave. R
// is the scheduler's streamer type.
type batchQueue[R queued] struct {
	maxBatch int
	wait     time.Duration
	onBatch  func(int, time.Duration)
	// after starts the batch wait and returns the channel that fires when
	// it has passed; only the serving goroutine calls it. Tests replace it.
	after func(time.Duration) <-chan time.Time
	timer *time.Timer

	reqs      chan R
	wake      chan struct{} // a stream left: recheck the batch target
	done      chan struct{} // closed by Close
	exited    chan struct{} // closed by serve when it returns
	closeOnce sync.Once
	active    atomic.Int64
	seq       atomic.Uint64 // numbers the streams
	stats     batchStats

	// drained is the time spent in non-blocking drains since the serving
	// goroutine last took it (that goroutine only).
	drained time.Duration
}

// newBatchQueue makes a queue with the options of a scheduler: the batch
// limit (0 or less: DefaultMaxBatch) capped by modelMax when that is
// positive, the wait (0: DefaultBatchWait) and OnBatch.
func newBatchQueue[R queued](opts SchedulerOptions, modelMax int) *batchQueue[R] {
	mb := opts.MaxBatch
	if mb <= 0 {
		mb = DefaultMaxBatch
	}
	if modelMax > 0 {
		mb = min(mb, modelMax)
	}
	wait := opts.Wait
	if wait == 0 {
		wait = DefaultBatchWait
	}
	q := &batchQueue[R]{
		maxBatch: mb,
		wait:     wait,
		onBatch:  opts.OnBatch,
		reqs:     make(chan R, 2*mb),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
	}
	q.after = func(d time.Duration) <-chan time.Time {
		if q.timer == nil {
			q.timer = time.NewTimer(d)
		} else {
			q.timer.Reset(d) // Go ≥ 1.23: no stale tick survives Reset
		}
		return q.timer.C
	}
	return q
}

// join registers a stream: it gives it its ticket t and keeps its state h
// resident in the model's tensors between calls. It fails with ErrClosed
// after Close.
func (q *batchQueue[R]) join(t *ticket, h *stateHome) error {
	if q.isClosed() {
		return ErrClosed
	}
	q.active.Add(1)
	*t = ticket{seq: q.seq.Add(1), reply: make(chan error, 1)}
	h.stay = true
	return nil
}

// enrol registers a stream fresh from its model's NewStreamer (st, err).
func (q *batchQueue[R]) enrol(st R, err error) (R, error) {
	var none R
	if err != nil {
		return none, err
	}
	if err := q.join(st.place(), st.stateHome()); err != nil {
		return none, err
	}
	return st, nil
}

// leave unregisters a stream and lets a waiting batch recheck its target.
func (q *batchQueue[R]) leave() {
	q.active.Add(-1)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// MaxBatch returns the effective batch size limit.
func (q *batchQueue[R]) MaxBatch() int { return q.maxBatch }

// Close stops the scheduler's goroutine and waits for it; a batch in
// progress completes first. Chunks still pending and all later calls fail
// with ErrClosed. It is safe to call more than once.
func (q *batchQueue[R]) Close() {
	q.closeOnce.Do(func() { close(q.done) })
	<-q.exited
}

// Stats returns the scheduler's counters.
func (q *batchQueue[R]) Stats() SchedulerStats {
	return q.stats.snapshot(q.active.Load())
}

func (q *batchQueue[R]) isClosed() bool {
	select {
	case <-q.done:
		return true
	default:
		return false
	}
}

// do queues r, blocking while the queue is full, and waits for its answer.
// The serving goroutine uses r only between taking it and answering; r's
// owner is blocked here meanwhile.
func (q *batchQueue[R]) do(r R) error {
	if !q.submit(r) {
		return ErrClosed
	}
	reply := r.place().reply
	select {
	case err := <-reply:
		return err
	case <-q.exited:
		// serve may have answered just before it returned.
		select {
		case err := <-reply:
			return err
		default:
			return ErrClosed
		}
	}
}

// submit queues r, blocking while the queue is full; false when the queue
// is closed.
func (q *batchQueue[R]) submit(r R) bool {
	if q.isClosed() {
		return false
	}
	select {
	case q.reqs <- r:
		return true
	case <-q.done:
		return false
	}
}

// serve is the scheduler's goroutine. For each batch it orders the streams
// by number (the same streams in the same order find their states in
// place, slab.go), calls run, answers every stream with run's error,
// counts the call and calls OnBatch. Once closed it fails the requests
// already taken with ErrClosed and returns.
func (q *batchQueue[R]) serve(run func(batch []R) (batchTimes, error)) {
	defer close(q.exited)
	defer func() {
		if q.timer != nil {
			q.timer.Stop()
		}
	}()
	batch := make([]R, 0, q.maxBatch)
	for {
		var ok bool
		if batch, ok = q.next(batch); !ok {
			for _, r := range batch {
				r.place().reply <- ErrClosed
			}
			return
		}
		t0 := time.Now()
		slices.SortFunc(batch, func(a, b R) int { return cmp.Compare(a.place().seq, b.place().seq) })
		tm, err := run(batch)
		n := len(batch)
		q.stats.count(n) // before the answers: a stream sees its call counted
		t1 := time.Now()
		for _, r := range batch {
			r.place().reply <- err
		}
		own := t1.Sub(t0) - tm.run - tm.search + q.drained
		q.drained = 0
		q.stats.times(tm.run, own, tm.search, time.Since(t1))
		if q.onBatch != nil {
			q.onBatch(n, tm.call)
		}
	}
}

// target is the batch size worth waiting for.
func (q *batchQueue[R]) target() int {
	return min(q.maxBatch, int(q.active.Load()))
}

// next blocks for the next request and gathers a batch after it into
// batch[:0]. It returns false when the queue was closed, with the requests
// already taken. Close wins over queued requests.
func (q *batchQueue[R]) next(batch []R) ([]R, bool) {
	batch = batch[:0]
	if q.isClosed() {
		return batch, false
	}
	select {
	case <-q.done:
		return batch, false
	case r := <-q.reqs:
		batch = append(batch, r)
	}
	return q.gather(batch)
}

// gather adds ready requests to batch (which holds one) until it reaches
// the target or the wait, started at the first request, has passed.
func (q *batchQueue[R]) gather(batch []R) ([]R, bool) {
	var timeout <-chan time.Time
	started := false
	for {
		batch = q.drain(batch)
		if len(batch) >= q.target() || q.wait < 0 {
			return batch, true
		}
		if !started {
			timeout, started = q.after(q.wait), true
		}
		select {
		case r := <-q.reqs:
			batch = append(batch, r)
		case <-q.wake:
		case <-timeout:
			return batch, true
		case <-q.done:
			return batch, false
		}
	}
}

// drain adds the requests already queued, up to the batch limit.
func (q *batchQueue[R]) drain(batch []R) []R {
	t0 := time.Now()
	for len(batch) < q.maxBatch {
		select {
		case r := <-q.reqs:
			batch = append(batch, r)
		default:
			q.drained += time.Since(t0)
			return batch
		}
	}
	q.drained += time.Since(t0)
	return batch
}

// batchStats are a scheduler's counters, written by its serving goroutine
// and read by Stats.
type batchStats struct {
	calls, streams, maxSeen atomic.Int64
	runNs, ownNs, searchNs  atomic.Int64
	wakeNs                  atomic.Int64
}

// count counts one call of n streams.
func (c *batchStats) count(n int) {
	c.calls.Add(1)
	c.streams.Add(int64(n))
	if int64(n) > c.maxSeen.Load() { // only the serving goroutine writes
		c.maxSeen.Store(int64(n))
	}
}

// times adds one call's times.
func (c *batchStats) times(run, own, search, wake time.Duration) {
	c.runNs.Add(int64(run))
	c.ownNs.Add(int64(own))
	c.searchNs.Add(int64(search))
	c.wakeNs.Add(int64(wake))
}

// snapshot returns the counters with the number of registered streams.
func (c *batchStats) snapshot(active int64) SchedulerStats {
	return SchedulerStats{
		Calls:         c.calls.Load(),
		Streams:       c.streams.Load(),
		MaxBatchSeen:  int(c.maxSeen.Load()),
		ActiveStreams: int(active),
		RunTime:       time.Duration(c.runNs.Load()),
		OwnTime:       time.Duration(c.ownNs.Load()),
		SearchTime:    time.Duration(c.searchNs.Load()),
		WakeTime:      time.Duration(c.wakeNs.Load()),
	}
}
