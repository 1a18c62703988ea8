package onnx

import (
	"sync"
	"sync/atomic"
	"time"
)

// batchQueue is the gathering half of a batch scheduler, independent of the
// model it feeds: a bounded queue of pending requests (twice the batch limit), the
// count of registered streams and the waiting policy of Scheduler. Its
// owner's goroutine calls next for each batch; streams call submit, join
// and leave. R is the owner's request type.
type batchQueue[R any] struct {
	maxBatch int
	wait     time.Duration
	// after starts the batch wait and returns the channel that fires when
	// it has passed; only the owner's goroutine calls it. Tests replace it.
	after func(time.Duration) <-chan time.Time
	timer *time.Timer

	reqs      chan R
	wake      chan struct{} // a stream left: recheck the batch target
	done      chan struct{} // closed by close
	exited    chan struct{} // closed by the owner's goroutine when it returns
	closeOnce sync.Once
	active    atomic.Int64

	// drained is the time spent in non-blocking drains since the owner last
	// took it (the owner's goroutine only).
	drained time.Duration
}

// newBatchQueue makes a queue with the limit and wait of opts (defaults as
// for Scheduler), the limit capped by modelMax when that is positive.
func newBatchQueue[R any](opts SchedulerOptions, modelMax int) *batchQueue[R] {
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

// join registers a stream.
func (q *batchQueue[R]) join() { q.active.Add(1) }

// leave unregisters a stream and lets a waiting batch recheck its target.
func (q *batchQueue[R]) leave() {
	q.active.Add(-1)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close makes next report the end; safe to call more than once.
func (q *batchQueue[R]) close() { q.closeOnce.Do(func() { close(q.done) }) }

// stop is deferred by the owner's goroutine: it stops the timer and marks
// the goroutine gone.
func (q *batchQueue[R]) stop() {
	if q.timer != nil {
		q.timer.Stop()
	}
	close(q.exited)
}

func (q *batchQueue[R]) isClosed() bool {
	select {
	case <-q.done:
		return true
	default:
		return false
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

// target is the batch size worth waiting for.
func (q *batchQueue[R]) target() int {
	return min(q.maxBatch, int(q.active.Load()))
}

// next blocks for the next request and gathers a batch after it into
// batch[:0]. It returns false when the queue was closed, with the requests
// already taken (to be failed by the owner). Close wins over queued
// requests.
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

// takeDrained returns the drain time since the last call and resets it.
func (q *batchQueue[R]) takeDrained() time.Duration {
	d := q.drained
	q.drained = 0
	return d
}

// batchStats are a scheduler's counters, written by its goroutine and read
// by Stats.
type batchStats struct {
	calls, streams, maxSeen atomic.Int64
	runNs, ownNs, searchNs  atomic.Int64
	wakeNs                  atomic.Int64
}

// record counts one call of n streams.
func (c *batchStats) record(n int, run, own, search, wake time.Duration) {
	c.calls.Add(1)
	c.streams.Add(int64(n))
	if int64(n) > c.maxSeen.Load() { // only the scheduler's goroutine writes
		c.maxSeen.Store(int64(n))
	}
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
