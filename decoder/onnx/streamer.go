package onnx

import (
	"errors"
	"fmt"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/ctc"
)

// ErrFinished means frames were fed to a Streamer after Finish.
var ErrFinished = errors.New("stream already finished")

// Streamer runs one stream through a Model: it buffers feature frames, cuts
// the windows [c·S, c·S+T), pads the last one with the model's pad value at
// Finish, runs the model on each window (directly, one stream per call, or
// batched with other streams through a Scheduler) and feeds the log-probs to
// CTC search: prefix beam search with the bundle's lexicon and LM when it
// names them (Bundle.BeamOptions), else greedy. A bundle with extra heads
// (a subtitle head) gets one more search per head, fed by the same model
// calls (HeadSearches); Cut, Reset and Finish act on all of them at once.
// Not safe for concurrent use.
type Streamer struct {
	m        *Model
	sched    *Scheduler // nil: direct model calls
	ticket              // the scheduler's number for it and its answer
	win      []float32  // the window the scheduler is to run
	closed   bool
	st       *StreamState
	search   ctc.Search   // the verbatim head's (output 0)
	heads    []ctc.Search // per extra head (Model.Heads)
	frameBuf              // frames from feature frame base on
	base     int64        // feature frame index of pend[0]: the next call starts here
	calls    int64
	window   []float32 // scratch for the padded last windows
	done     bool
}

// stateHome is where the stream's state lives between calls (queued).
func (s *Streamer) stateHome() *stateHome { return &s.st.home }

// NewStreamer starts a stream whose feature frame 0 is at media time anchor
// (90 kHz PTS).
func (m *Model) NewStreamer(anchor int64) (*Streamer, error) {
	opt, beam := m.b.BeamOptions()
	g, err := newSearch(m.b.Tokens, m.c.BlankID, m.c.Subsampling, anchor, opt, beam)
	if err != nil {
		return nil, err
	}
	var heads []ctc.Search
	for _, h := range m.b.Heads {
		opt, beam := h.BeamOptions()
		hs, err := newSearch(h.Tokens, h.BlankID, m.c.Subsampling, anchor, opt, beam)
		if err != nil {
			return nil, fmt.Errorf("onnx: %s head: %w", h.Track, err)
		}
		heads = append(heads, hs)
	}
	T, F := m.c.ChunkFrames, m.c.FeatureDim
	return &Streamer{
		m:        m,
		st:       m.NewStreamState(),
		search:   g,
		heads:    heads,
		frameBuf: frameBuf{pend: make([]float32, 0, 2*T*F)},
		window:   make([]float32, T*F),
	}, nil
}

// Reset starts a new stream (zero state, no words) anchored at anchor.
func (s *Streamer) Reset(anchor int64) {
	s.st.Reset()
	s.search.Reset(anchor)
	for _, h := range s.heads {
		h.Reset(anchor)
	}
	s.frameBuf.reset()
	s.base, s.calls, s.done = 0, 0, false
}

// Accept appends feature frames (F values each, frame after frame) and runs
// the model on every window that is complete.
func (s *Streamer) Accept(frames []float32) error {
	if s.done {
		return ErrFinished
	}
	F := s.m.c.FeatureDim
	if err := s.push(frames, F); err != nil {
		return err
	}
	T := s.m.c.ChunkFrames
	for len(s.pend) >= T*F {
		if err := s.call(s.pend[:T*F]); err != nil {
			return err
		}
	}
	return nil
}

// Finish runs the remaining windows, padded with the pad value, until every
// accepted frame has been covered by the emitted part [c·S, c·S+S) of a call.
func (s *Streamer) Finish() error {
	if s.done {
		return nil
	}
	s.done = true
	for s.base < s.total {
		n := copy(s.window, s.pend)
		for i := n; i < len(s.window); i++ {
			s.window[i] = s.m.c.PadValue
		}
		if err := s.call(s.window); err != nil {
			return err
		}
	}
	return nil
}

// Close unregisters the stream from its scheduler, so that batches no longer
// wait for it, and drops its state from the model's tensors, where the
// scheduler left it; later model calls then fail with ErrClosed. Without a
// scheduler it does nothing. It is safe to call more than once.
func (s *Streamer) Close() {
	if s.sched == nil || s.closed {
		return
	}
	s.closed = true
	s.st.release()
	s.sched.leave()
}

// run makes the model call for one window, directly or through the
// scheduler; the log-probs are then in s.st.
func (s *Streamer) run(window []float32) error {
	if s.sched == nil {
		_, err := s.m.Run(window, []*StreamState{s.st})
		return err
	}
	if s.closed {
		return ErrClosed
	}
	s.win = window
	err := s.sched.do(s)
	s.win = nil
	return err
}

// call runs one window and advances by S frames.
func (s *Streamer) call(window []float32) error {
	if err := s.run(window); err != nil {
		return err
	}
	if err := s.search.Accept(s.st.logProbs); err != nil {
		return err
	}
	for h, hs := range s.heads {
		if err := hs.Accept(s.st.heads[h]); err != nil {
			return fmt.Errorf("onnx: %s head: %w", s.m.b.Heads[h].Track, err)
		}
	}
	S := s.m.c.ChunkShift
	s.shift(S * s.m.c.FeatureDim)
	s.base += int64(S)
	s.calls++
	return nil
}

// frameBuf buffers a stream's feature frames, F values each, from the
// start of its next window on.
type frameBuf struct {
	pend  []float32 // the values, frame after frame
	total int64     // frames pushed (a transducer's tail padding excluded)
}

// push appends whole frames of F values; a part of a frame fails with
// ErrBatch.
func (b *frameBuf) push(frames []float32, F int) error {
	if len(frames)%F != 0 {
		return fmt.Errorf("%w: %d values is not a whole number of %d-bin frames", ErrBatch, len(frames), F)
	}
	b.pend = append(b.pend, frames...)
	b.total += int64(len(frames) / F)
	return nil
}

// shift drops the first n values, or all there are when fewer.
func (b *frameBuf) shift(n int) {
	n = min(n, len(b.pend))
	b.pend = b.pend[:copy(b.pend, b.pend[n:])]
}

// reset empties the buffer and its count.
func (b *frameBuf) reset() { b.pend, b.total = b.pend[:0], 0 }

// Words returns the recognised words so far; the last may still grow.
func (s *Streamer) Words() []decoder.Word { return s.search.Words() }

// Text returns the recognised words joined by spaces.
func (s *Streamer) Text() string { return s.search.Text() }

// Search returns the stream's CTC search of the verbatim head (*ctc.Beam or
// *ctc.Greedy), for endpointing (TrailingBlanks, Frames) and for cutting
// segments (Cut) without touching the model state.
func (s *Streamer) Search() ctc.Search { return s.search }

// HeadSearch is the CTC search of one head of a stream.
type HeadSearch struct {
	Track  string // decoder.TrackVerbatim, decoder.TrackSubtitle
	Search ctc.Search
}

// HeadSearches returns the stream's search of every head, the verbatim
// head's (Search) first, then those of Model.Heads in order. All of them
// have consumed the same model calls, so their Frames agree. Cutting one of
// them directly desynchronises the segments: use Cut or CutHeads.
func (s *Streamer) HeadSearches() []HeadSearch {
	out := make([]HeadSearch, 0, 1+len(s.heads))
	out = append(out, HeadSearch{Track: decoder.TrackVerbatim, Search: s.search})
	for h, hs := range s.heads {
		out = append(out, HeadSearch{Track: s.m.b.Heads[h].Track, Search: hs})
	}
	return out
}

// TrackWords are the words of one head's segment.
type TrackWords struct {
	Track string
	Words []decoder.Word
}

// Frames is the number of feature frames accepted.
func (s *Streamer) Frames() int64 { return s.total }

// Calls is the number of model calls made.
func (s *Streamer) Calls() int64 { return s.calls }
