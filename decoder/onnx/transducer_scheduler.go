package onnx

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/subtitled/subtitled/decoder/transducer"
)

// TransducerScheduler owns a TransducerModel and batches the chunks of many
// streams, as Scheduler does for CTC models: one goroutine takes a ready
// stream, gathers more, up to the batch limit, from the other streams that
// are ready, and runs them together: one encoder call with their windows
// and states stacked along each state's own batch axis, then their search
// (greedy, modified beam or NeMo greedy), whose decoder and joiner calls are
// batched over all the streams (and their hypotheses), frame by frame. Each
// stream's tokens and times are those of its solo run.
//
// The waiting policy, the queue bound and the options are Scheduler's:
// once a stream is ready the goroutine waits for more only while the batch
// is smaller than both the batch limit and the number of registered
// streamers, and the wait has not passed. Close streamers when their
// stream ends.
//
// A failed call (a closed model, an ONNX Runtime error, a non-finite
// joiner output) fails every stream of its batch. The TransducerScheduler
// does not close the model: close the scheduler first, then the model.
type TransducerScheduler struct {
	m       *TransducerModel
	q       *batchQueue[*TransducerStreamer]
	onBatch func(int, time.Duration)
	stats   batchStats
	seq     atomic.Uint64 // numbers the streamers, the order of a batch
}

// NewTransducerScheduler starts a scheduler goroutine for m (not nil). The
// batch limit is capped by the model's TransducerParams.MaxBatch when that
// is set. OnBatch, when set, sees each call's batch size and the duration
// of its encoder call (stacking, Run and scattering; not the search). Close
// stops it.
func NewTransducerScheduler(m *TransducerModel, opts SchedulerOptions) *TransducerScheduler {
	s := newTransducerScheduler(m, opts)
	go s.loop()
	return s
}

// newTransducerScheduler builds a TransducerScheduler without starting its
// goroutine.
func newTransducerScheduler(m *TransducerModel, opts SchedulerOptions) *TransducerScheduler {
	return &TransducerScheduler{
		m:       m,
		q:       newBatchQueue[*TransducerStreamer](opts, m.p.MaxBatch),
		onBatch: opts.OnBatch,
	}
}

// Model returns the scheduler's model.
func (s *TransducerScheduler) Model() *TransducerModel { return s.m }

// MaxBatch returns the effective batch size limit.
func (s *TransducerScheduler) MaxBatch() int { return s.q.maxBatch }

// NewStreamer starts a stream, like TransducerModel.NewStreamer, whose
// chunks go through the scheduler (Accept and Finish block until theirs
// have run). It counts as registered until its Close. It fails with
// ErrClosed after Close.
func (s *TransducerScheduler) NewStreamer(anchor int64) (*TransducerStreamer, error) {
	if s.q.isClosed() {
		return nil, ErrClosed
	}
	st, err := s.m.NewStreamer(anchor)
	if err != nil {
		return nil, err
	}
	st.sched, st.reply, st.seq = s, make(chan error, 1), s.seq.Add(1)
	st.st.home.stay = true // between calls, the state stays in the encoder's tensors
	s.q.join()
	return st, nil
}

// Close stops the scheduler's goroutine and waits for it; a batch in
// progress completes first. Chunks still pending and all later calls fail
// with ErrClosed. It is safe to call more than once.
func (s *TransducerScheduler) Close() {
	s.q.close()
	<-s.q.exited
}

// Stats returns the scheduler's counters. RunTime is the encoder's ONNX
// Runtime Run; SearchTime the batched search, decoder and joiner calls
// included.
func (s *TransducerScheduler) Stats() SchedulerStats {
	return s.stats.snapshot(s.q.active.Load())
}

// do queues a Ready stream and waits until its chunk has run. The
// scheduler's goroutine uses the streamer only between taking it and
// answering; its owner is blocked here meanwhile.
func (s *TransducerScheduler) do(st *TransducerStreamer) error {
	if !s.q.submit(st) {
		return ErrClosed
	}
	select {
	case err := <-st.reply:
		return err
	case <-s.q.exited:
		// The goroutine may have answered just before it returned.
		select {
		case err := <-st.reply:
			return err
		default:
			return ErrClosed
		}
	}
}

// loop is the scheduler's goroutine.
func (s *TransducerScheduler) loop() {
	defer s.q.stop()
	batch := make([]*TransducerStreamer, 0, s.q.maxBatch)
	sc := &batchScratch{
		states:  make([]*EncoderState, 0, s.q.maxBatch),
		streams: make([]*transducer.Stream, 0, s.q.maxBatch),
		enc:     make([][]float32, 0, s.q.maxBatch),
	}
	for {
		var ok bool
		if batch, ok = s.q.next(batch); !ok {
			for _, st := range batch {
				st.reply <- ErrClosed
			}
			return
		}
		s.run(batch, sc)
	}
}

// run decodes one batch and answers every stream.
func (s *TransducerScheduler) run(batch []*TransducerStreamer, sc *batchScratch) {
	t0 := time.Now()
	// The same streams in the same order find their states in place.
	slices.SortFunc(batch, func(a, b *TransducerStreamer) int { return cmp.Compare(a.seq, b.seq) })
	tm, err := s.m.decodeBatch(batch, sc)
	t1 := time.Now()
	for _, st := range batch {
		st.reply <- err
	}
	own := t1.Sub(t0) - tm.run - tm.search + s.q.takeDrained()
	s.stats.record(len(batch), tm.run, own, tm.search, time.Since(t1))
	if s.onBatch != nil {
		s.onBatch(len(batch), tm.encoder)
	}
}
