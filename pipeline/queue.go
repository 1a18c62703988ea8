// Package pipeline holds the small pieces the stages share: bounded queues
// with an explicit drop policy and drop counters. It imports nothing of ours.
package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Push and Pop once the queue is closed (and, for
// Pop, drained).
var ErrClosed = errors.New("pipeline: queue closed")

// Policy says what Push does when the queue is full.
type Policy int

const (
	// Block makes Push wait for room (or for its context to end).
	Block Policy = iota
	// DropOldest discards the oldest queued item to make room and counts it.
	DropOldest
	// DropNewest discards the item being pushed and counts it.
	DropNewest
)

// Queue is a bounded FIFO safe for many producers and consumers.
type Queue[T any] struct {
	mu       sync.Mutex
	notEmpty *sync.Cond
	notFull  *sync.Cond
	buf      []T
	head, n  int
	policy   Policy
	closed   bool
	dropped  atomic.Uint64
	// OnDrop, when set before use, is called (without the lock held) with
	// each item the policy discards.
	OnDrop func(T)
}

// NewQueue returns a queue holding at most capacity items (minimum 1).
func NewQueue[T any](capacity int, policy Policy) *Queue[T] {
	if capacity < 1 {
		capacity = 1
	}
	q := &Queue[T]{buf: make([]T, capacity), policy: policy}
	q.notEmpty = sync.NewCond(&q.mu)
	q.notFull = sync.NewCond(&q.mu)
	return q
}

// Push adds v. With the Block policy it waits for room until ctx ends.
func (q *Queue[T]) Push(ctx context.Context, v T) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	var dropped T
	didDrop := false
	for q.n == len(q.buf) {
		if q.closed {
			q.mu.Unlock()
			return ErrClosed
		}
		switch q.policy {
		case DropOldest:
			dropped, didDrop = q.buf[q.head], true
			var zero T
			q.buf[q.head] = zero
			q.head = (q.head + 1) % len(q.buf)
			q.n--
		case DropNewest:
			q.mu.Unlock()
			q.drop(v)
			return nil
		default:
			if err := q.waitLocked(ctx, q.notFull); err != nil {
				q.mu.Unlock()
				return err
			}
		}
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
	q.notEmpty.Signal()
	q.mu.Unlock()
	if didDrop {
		q.drop(dropped)
	}
	return nil
}

// Pop removes the oldest item, waiting until one arrives, the queue is
// closed and drained (ErrClosed), or ctx ends.
func (q *Queue[T]) Pop(ctx context.Context) (T, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var zero T
	for q.n == 0 {
		if q.closed {
			return zero, ErrClosed
		}
		if err := q.waitLocked(ctx, q.notEmpty); err != nil {
			return zero, err
		}
	}
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.notFull.Signal()
	return v, nil
}

// TryPop removes the oldest item if there is one.
func (q *Queue[T]) TryPop() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var zero T
	if q.n == 0 {
		return zero, false
	}
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.notFull.Signal()
	return v, true
}

// Close stops further pushes; queued items can still be popped.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.notEmpty.Broadcast()
	q.notFull.Broadcast()
	q.mu.Unlock()
}

// Len returns the number of queued items.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Cap returns the capacity.
func (q *Queue[T]) Cap() int { return len(q.buf) }

// Dropped returns how many items the policy has discarded.
func (q *Queue[T]) Dropped() uint64 { return q.dropped.Load() }

func (q *Queue[T]) drop(v T) {
	q.dropped.Add(1)
	if q.OnDrop != nil {
		q.OnDrop(v)
	}
}

// waitLocked waits on c with q.mu held, waking when ctx ends. Callers
// re-check their condition (and q.closed) after it returns: a close must not
// make a waiting Pop drop the items still queued.
func (q *Queue[T]) waitLocked(ctx context.Context, c *sync.Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		c.Broadcast()
		q.mu.Unlock()
	})
	c.Wait()
	stop()
	return ctx.Err()
}
