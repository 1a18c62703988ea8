package transducer

import (
	"fmt"

	"github.com/subtitled/subtitled/decoder/ctc"
)

// Defaults of NeMo greedy search (sherpa-onnx
// online-transducer-greedy-search-nemo-decoder, reference §2.3).
const (
	// DefaultStatefulMaxSymbols is the number of symbols NeMo greedy search
	// may emit per encoder frame.
	DefaultStatefulMaxSymbols = 10
	// DefaultStatefulSubsampling is NeMo FastConformer's subsampling: 80 ms
	// encoder frames.
	DefaultStatefulSubsampling = 8
)

// StatefulNet is a transducer whose prediction network carries a recurrent
// state, as NeMo exports it (reference §2.2): the decoder takes the last
// token and its state and returns its output and the next state; the joiner
// takes one encoder frame and one decoder output. The blank is the last
// token id, V-1. Rows are batched; implementations must not keep the slices
// they are given.
type StatefulNet interface {
	// VocabSize is V, the number of joiner outputs, blank included.
	VocabSize() int
	// EncoderDim is the width D of an encoder output frame.
	EncoderDim() int
	// DecoderDim is the width H of a decoder output.
	DecoderDim() int
	// DecoderStateSize is the number of floats of one row's state (all of
	// its tensors); the initial state is all zeros.
	DecoderStateSize() int
	// RunDecoder runs the prediction network on len(tokens) rows: token
	// tokens[r] with state states[r·S:(r+1)·S]. It writes the outputs
	// [rows][H] into out and the next states [rows][S] into next.
	RunDecoder(tokens []int32, states, out, next []float32) error
	// RunJoiner runs the joiner on rows pairs enc [rows][D], dec [rows][H]
	// and writes the raw logits [rows][V] into out.
	RunJoiner(enc, dec, out []float32) error
}

// NewStateful makes a Searcher for a stateful (NeMo) net: greedy search only
// (modified beam search is refused with ErrOptions), up to
// MaxSymbolsPerFrame symbols per frame (0: DefaultStatefulMaxSymbols) and
// Subsampling feature frames per encoder frame (0:
// DefaultStatefulSubsampling). The net's vocabulary must be the token
// table's, with the blank last. <unk> is a token like any other (it is fed
// to the prediction network; the text skips it).
func NewStateful(net StatefulNet, tokens *ctc.Tokens, opts Options) (*Searcher, error) {
	if net == nil || tokens == nil {
		return nil, fmt.Errorf("%w: nil net or token table", ErrOptions)
	}
	if opts.MaxSymbolsPerFrame == 0 {
		opts.MaxSymbolsPerFrame = DefaultStatefulMaxSymbols
	}
	if opts.Subsampling == 0 {
		opts.Subsampling = DefaultStatefulSubsampling
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Method != Greedy {
		return nil, fmt.Errorf("%w: %s is not available for a transducer with a stateful (LSTM) prediction network; use %s",
			ErrOptions, o.Method, Greedy)
	}
	s := &Searcher{sn: net, tok: tokens, opts: o, c: 1, v: net.VocabSize(), je: net.EncoderDim(),
		jd: net.DecoderDim(), ss: net.DecoderStateSize(), unk: -1}
	s.blank = s.v - 1
	switch {
	case s.je < 1 || s.jd < 1:
		return nil, fmt.Errorf("%w: encoder dim %d, decoder dim %d", ErrOptions, s.je, s.jd)
	case s.ss < 1:
		return nil, fmt.Errorf("%w: decoder state of %d values", ErrOptions, s.ss)
	case s.v != tokens.Len():
		return nil, fmt.Errorf("%w: the joiner has %d outputs but the token table has %d tokens", ErrVocab, s.v, tokens.Len())
	case s.v < 2:
		return nil, fmt.Errorf("%w: vocabulary of %d tokens", ErrVocab, s.v)
	}
	return s, nil
}

// BlankID is the blank token: 0 for icefall nets, V-1 for stateful ones.
func (s *Searcher) BlankID() int { return s.blank }

// Stateful reports whether the searcher runs a StatefulNet.
func (s *Searcher) Stateful() bool { return s.sn != nil }

// ensureDecodedStateful runs the prediction network, batched, for the
// hypotheses whose output is not cached: each feeds the last token of ys
// (the blank at the start) with its state, and keeps the output and the
// next state.
func (s *Searcher) ensureDecodedStateful(hs []*hyp) error {
	s.tok32, s.stIn = s.tok32[:0], s.stIn[:0]
	n := 0
	for _, h := range hs {
		if h.dec != nil {
			continue
		}
		s.tok32 = append(s.tok32, int32(h.ys[len(h.ys)-1]))
		if h.state == nil {
			s.stIn = append(s.stIn, make([]float32, s.ss)...)
		} else {
			s.stIn = append(s.stIn, h.state...)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	s.decOut = grow(s.decOut, n*s.jd)
	s.stOut = grow(s.stOut, n*s.ss)
	if err := s.sn.RunDecoder(s.tok32, s.stIn, s.decOut, s.stOut); err != nil {
		return err
	}
	out := append([]float32(nil), s.decOut...)
	next := append([]float32(nil), s.stOut...)
	r := 0
	for _, h := range hs {
		if h.dec == nil {
			h.dec = out[r*s.jd : (r+1)*s.jd : (r+1)*s.jd]
			h.state = next[r*s.ss : (r+1)*s.ss : (r+1)*s.ss]
			r++
		}
	}
	return nil
}

// statefulFrame runs NeMo greedy search (reference §2.3) on output frame t
// of the active streams: the joiner's arg-max is emitted and fed to the
// prediction network, and the same frame is searched again, until it gives
// blank or MaxSymbolsPerFrame symbols were emitted. A blank adds one
// trailing blank (also after emissions in the frame, as sherpa-onnx does).
// The decoder runs batched over the streams that emitted.
func (s *Searcher) statefulFrame(streams []*Stream, enc [][]float32, active []int, t int) error {
	// emit keeps a hypothesis's state: the state to feed its new token with.
	return s.symbolRounds(streams, enc, active, t, func(y int) bool { return y == s.blank },
		func(h *hyp) { h.trailing++ }, nil)
}
