package onnx

import "github.com/subtitled/subtitled/decoder/transducer"

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
// joiner output) fails every stream of its batch. In its Stats, RunTime is
// the encoder's ONNX Runtime Run and SearchTime the batched search, decoder
// and joiner calls included. The TransducerScheduler does not close the
// model: close the scheduler first, then the model.
type TransducerScheduler struct {
	// The queue, the waiting policy and the goroutine; MaxBatch, Close and
	// Stats are its.
	*batchQueue[*TransducerStreamer]

	m  *TransducerModel
	sc batchScratch // run's
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
	q := newBatchQueue[*TransducerStreamer](opts, m.p.MaxBatch)
	return &TransducerScheduler{batchQueue: q, m: m, sc: batchScratch{
		states:  make([]*EncoderState, 0, q.maxBatch),
		streams: make([]*transducer.Stream, 0, q.maxBatch),
		enc:     make([][]float32, 0, q.maxBatch),
	}}
}

// Model returns the scheduler's model.
func (s *TransducerScheduler) Model() *TransducerModel { return s.m }

// NewStreamer starts a stream, like TransducerModel.NewStreamer, whose
// chunks go through the scheduler (Accept and Finish block until theirs
// have run). It counts as registered until its Close. It fails with
// ErrClosed after Close.
func (s *TransducerScheduler) NewStreamer(anchor int64) (*TransducerStreamer, error) {
	st, err := s.enrol(s.m.NewStreamer(anchor))
	if err == nil {
		st.sched = s
	}
	return st, err
}

// loop is the scheduler's goroutine.
func (s *TransducerScheduler) loop() { s.serve(s.run) }

// run decodes one batch of Ready streams, ordered by stream.
func (s *TransducerScheduler) run(batch []*TransducerStreamer) (batchTimes, error) {
	return s.m.decodeBatch(batch, &s.sc)
}
