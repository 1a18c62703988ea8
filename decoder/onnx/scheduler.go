package onnx

import "time"

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
	// The queue, the waiting policy and the goroutine; MaxBatch, Close and
	// Stats are its.
	*batchQueue[*Streamer]

	m      *Model
	states []*StreamState // run's scratch
}

// NewScheduler starts a scheduler goroutine for m (not nil). Close stops it.
func NewScheduler(m *Model, opts SchedulerOptions) *Scheduler {
	s := newScheduler(m, opts)
	go s.loop()
	return s
}

// newScheduler builds a Scheduler without starting its goroutine.
func newScheduler(m *Model, opts SchedulerOptions) *Scheduler {
	q := newBatchQueue[*Streamer](opts, m.Contract().MaxBatch)
	return &Scheduler{batchQueue: q, m: m, states: make([]*StreamState, 0, q.maxBatch)}
}

// Model returns the scheduler's model.
func (s *Scheduler) Model() *Model { return s.m }

// NewStreamer starts a stream, like Model.NewStreamer, whose model calls go
// through the scheduler. It counts as active until its Close. It fails with
// ErrClosed after Close.
func (s *Scheduler) NewStreamer(anchor int64) (*Streamer, error) {
	st, err := s.enrol(s.m.NewStreamer(anchor))
	if err == nil {
		st.sched = s
	}
	return st, err
}

// loop is the scheduler's goroutine.
func (s *Scheduler) loop() { s.serve(s.run) }

// run makes one model call for a batch, ordered by stream: each stream's
// window in, its log-probs into its StreamState.
func (s *Scheduler) run(batch []*Streamer) (batchTimes, error) {
	s.states = s.states[:0]
	for _, st := range batch {
		s.states = append(s.states, st.st)
	}
	w := s.m.c.ChunkFrames * s.m.c.FeatureDim
	t0 := time.Now()
	_, ran, err := s.m.run(s.states, func(x []float32) {
		for i, st := range batch {
			copy(x[i*w:(i+1)*w], st.win)
		}
	})
	return batchTimes{call: time.Since(t0), run: ran}, err
}
