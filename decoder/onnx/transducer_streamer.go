package onnx

import (
	"fmt"
	"slices"
	"time"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/transducer"
)

// TransducerStreamer runs one stream through a TransducerModel, chunked as
// sherpa-onnx does (MODEL-CONTRACT §1.5, §2.2): it buffers feature frames,
// and each encoder call takes the window [processed, processed+T) and
// advances processed by the shift (decode_chunk_len; NeMo chunk_shift), so
// consecutive windows overlap by T − shift frames (icefall look-ahead, NeMo
// pre-encode cache). The encoder output goes to the
// model's search (greedy or modified beam). At the end of the input it
// appends silent frames (the model's tail padding, at least T) so that the
// last real frames pass through the encoder with their right context.
//
// Accept and Finish run the model for this stream alone, or, for a
// streamer made by a TransducerScheduler, batched with other streams by the
// scheduler's goroutine; Push, InputFinished, Ready and
// TransducerModel.DecodeStreams let a caller batch many streams into one
// encoder call itself. Not safe for concurrent use.
type TransducerStreamer struct {
	m        *TransducerModel
	sched    *TransducerScheduler // nil: direct model calls
	ticket                        // the scheduler's number for it and its answer
	st       *EncoderState
	search   *transducer.Stream
	frameBuf // frames from the window start on (tail padding included)
	calls    int64
	finished bool // InputFinished ran: pend holds the tail padding
	closed   bool
}

// stateHome is where the stream's state lives between calls (queued).
func (s *TransducerStreamer) stateHome() *stateHome { return &s.st.home }

// NewStreamer starts a stream whose feature frame 0 is at media time anchor
// (90 kHz PTS).
func (m *TransducerModel) NewStreamer(anchor int64) (*TransducerStreamer, error) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return &TransducerStreamer{
		m:        m,
		st:       m.NewEncoderState(),
		search:   m.search.NewStream(anchor),
		frameBuf: frameBuf{pend: make([]float32, 0, 2*m.p.ChunkFrames*m.p.FeatureDim)},
	}, nil
}

// Reset starts a new stream anchored at anchor: zero encoder state, initial
// decoder context, no frames and no words.
func (s *TransducerStreamer) Reset(anchor int64) {
	s.st.Reset()
	s.search.Reset(anchor)
	s.frameBuf.reset()
	s.calls, s.finished = 0, false
}

// Push buffers feature frames (F values each, frame after frame) without
// running the model.
func (s *TransducerStreamer) Push(frames []float32) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.finished:
		return ErrFinished
	}
	return s.push(frames, s.m.p.FeatureDim)
}

// InputFinished marks the end of the input: it appends the tail padding
// (frames of the pad value, ln FLT_EPSILON, the fbank of digital silence).
// Later Push calls fail with ErrFinished.
func (s *TransducerStreamer) InputFinished() {
	if s.finished {
		return
	}
	s.finished = true
	for range s.m.tailPad * s.m.p.FeatureDim {
		s.pend = append(s.pend, s.m.p.PadValue)
	}
}

// Ready reports whether a full window of T frames is buffered.
func (s *TransducerStreamer) Ready() bool {
	return !s.closed && len(s.pend) >= s.m.p.ChunkFrames*s.m.p.FeatureDim
}

// Accept buffers feature frames and runs the model on every complete window.
func (s *TransducerStreamer) Accept(frames []float32) error {
	if err := s.Push(frames); err != nil {
		return err
	}
	return s.drain()
}

// Finish appends the tail padding and runs the remaining windows. Calling
// it again does nothing.
func (s *TransducerStreamer) Finish() error {
	if s.closed {
		return ErrClosed
	}
	s.InputFinished()
	return s.drain()
}

func (s *TransducerStreamer) drain() error {
	for s.Ready() {
		var err error
		if s.sched != nil {
			err = s.sched.do(s)
		} else {
			err = s.m.DecodeStreams([]*TransducerStreamer{s})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Close ends the stream: later calls fail with ErrClosed, and a
// scheduler's batches no longer wait for it. It is safe to call more than
// once.
func (s *TransducerStreamer) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.sched != nil {
		s.st.release()
		s.sched.leave()
	}
}

// Search returns the stream's search, for endpointing (TrailingBlanks,
// Frames) and for cutting segments (Cut) without touching the encoder state.
func (s *TransducerStreamer) Search() *transducer.Stream { return s.search }

// Words returns the recognised words so far; the last may still grow.
func (s *TransducerStreamer) Words() []decoder.Word { return s.search.Words() }

// Text returns the recognised words joined by spaces.
func (s *TransducerStreamer) Text() string { return s.search.Text() }

// Frames is the number of feature frames accepted (tail padding excluded).
func (s *TransducerStreamer) Frames() int64 { return s.total }

// Calls is the number of encoder calls made for this stream.
func (s *TransducerStreamer) Calls() int64 { return s.calls }

// DecodeStreams runs one chunk for each of the given streams, which must be
// Ready, distinct and made by m: one encoder call with their windows and
// states stacked (MODEL-CONTRACT §1.6), then the search of all of them
// batched, then each window advances by decode_chunk_len.
func (m *TransducerModel) DecodeStreams(ss []*TransducerStreamer) error {
	for i, s := range ss {
		switch {
		case s == nil || s.m != m:
			return fmt.Errorf("%w: stream %d does not belong to this model", ErrBatch, i)
		case s.closed:
			return ErrClosed
		case !s.Ready():
			return fmt.Errorf("%w: stream %d has %d buffered frames, fewer than T=%d", ErrBatch, i, len(s.pend)/m.p.FeatureDim, m.p.ChunkFrames)
		}
		for _, o := range ss[:i] {
			if o == s {
				return fmt.Errorf("%w: stream %d is listed twice", ErrBatch, i)
			}
		}
	}
	_, err := m.decodeBatch(ss, &batchScratch{})
	return err
}

// batchScratch holds the per-call lists of decodeBatch, kept by a caller
// that makes many calls.
type batchScratch struct {
	states  []*EncoderState
	streams []*transducer.Stream
	enc     [][]float32
}

// decodeBatch is DecodeStreams for streams already checked (Ready,
// distinct, open, made by m): one encoder call with their windows and
// states stacked, the search of all of them batched, then each window
// advances by the shift.
func (m *TransducerModel) decodeBatch(ss []*TransducerStreamer, sc *batchScratch) (batchTimes, error) {
	var tm batchTimes
	sc.states, sc.streams = sc.states[:0], sc.streams[:0]
	for _, s := range ss {
		sc.states, sc.streams = append(sc.states, s.st), append(sc.streams, s.search)
	}
	sc.enc = slices.Grow(sc.enc[:0], len(ss))[:len(ss)]
	w := m.p.ChunkFrames * m.p.FeatureDim
	t0 := time.Now()
	enc, run, err := m.runEncoder(sc.states, sc.enc, func(x []float32) {
		for i, s := range ss {
			copy(x[i*w:(i+1)*w], s.pend[:w])
		}
	})
	t1 := time.Now()
	tm.call, tm.run = t1.Sub(t0), run
	if err != nil {
		return tm, err
	}
	err = m.search.Decode(sc.streams, enc)
	tm.search = time.Since(t1)
	if err != nil {
		return tm, err
	}
	shift := m.p.ChunkShift * m.p.FeatureDim
	for _, s := range ss {
		s.shift(shift)
		s.calls++
	}
	return tm, nil
}
