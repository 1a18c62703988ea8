// Package recognizer runs one audio stream through a model: features,
// chunked model calls, greedy search and endpointing. It turns
// ingest.Frames into decoder.Results: partials while words grow, a final
// result at every endpoint, discontinuity and end of stream.
package recognizer

import (
	"errors"
	"fmt"
	"time"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/endpoint"
	"github.com/subtitled/subtitled/decoder/features"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/ingest"
)

// ErrFeatures means the model asks for features this build cannot compute.
var ErrFeatures = errors.New("recognizer: unsupported feature type")

// Options configures a Recognizer.
type Options struct {
	// Track names the results (default decoder.TrackVerbatim).
	Track string
	// Endpoint holds the endpoint rules (default endpoint.DefaultOptions()).
	Endpoint *endpoint.Options
	// Partials enables partial results whenever the words change.
	Partials bool
	// Scheduler, when set, batches this stream's model calls with other
	// streams'; it must schedule the Model given to New. Nil: the
	// recogniser calls the model directly.
	Scheduler *onnx.Scheduler
}

// stream is what the recogniser needs from a model stream: onnx.Streamer
// (CTC) and onnx.TransducerStreamer provide it. Cut ends a segment at an
// endpoint with the family's reset (§1.9: icefall keeps the states, NeMo
// zeroes them).
type stream interface {
	Accept(frames []float32) error
	Finish() error
	Reset(anchor int64)
	Close()
	Calls() int64
	Cut() []decoder.Word
}

// search is what the recogniser needs from a stream's search, for
// endpointing: *ctc.Greedy and *transducer.Stream provide it.
type search interface {
	Frames() int64
	TrailingBlanks() int64
	Words() []decoder.Word
}

// featureOptions returns the features a model family wants (MODEL-CONTRACT
// §3): Kaldi fbank for icefall models and subtitled_ctc, NeMo's Hann/Slaney
// log-mel (80 or 128 bins) for NeMo models.
func featureOptions(featureType string, dim int) (features.Options, error) {
	switch featureType {
	case onnx.FeatureKaldi:
		return features.KaldiOptions(dim), nil
	case onnx.FeatureNeMo:
		return features.NeMoOptions(dim), nil
	}
	return features.Options{}, fmt.Errorf("%w: %q", ErrFeatures, featureType)
}

// Recognizer is one stream's recogniser. It is not safe for concurrent use.
// Close it when the stream ends.
type Recognizer struct {
	opts     Options
	ep       endpoint.Options
	emit     func(decoder.Result)
	feat     *features.Extractor
	stream   stream
	search   search // the stream's search; the same object for its whole life
	frameDur time.Duration
	started  bool
	segment  uint64
	partial  string // text of the last partial emitted
	scratch  []float32
}

// New returns a recogniser for a single-file CTC model (onnx.OpenBundle:
// subtitled_ctc, icefall zipformer2 CTC or NeMo cache-aware CTC) that
// reports results through emit, which is called synchronously from Accept
// and Finish. Features follow the family (Kaldi fbank, or NeMo log-mel for
// NeMo models); at an endpoint a NeMo model's states are zeroed, the others
// keep theirs.
func New(m *onnx.Model, opts Options, emit func(decoder.Result)) (*Recognizer, error) {
	c := m.Contract()
	fo, err := featureOptions(c.FeatureType, c.FeatureDim)
	if err != nil {
		return nil, err
	}
	if opts.Scheduler != nil && opts.Scheduler.Model() != m {
		return nil, errors.New("recognizer: the scheduler runs a different model")
	}
	feat, err := features.New(fo)
	if err != nil {
		return nil, fmt.Errorf("recognizer: features: %w", err)
	}
	var st *onnx.Streamer
	if opts.Scheduler != nil {
		st, err = opts.Scheduler.NewStreamer(0)
	} else {
		st, err = m.NewStreamer(0)
	}
	if err != nil {
		return nil, fmt.Errorf("recognizer: %w", err)
	}
	return newRecognizer(opts, emit, feat, st, st.Search(), c.Subsampling), nil
}

// NewTransducer returns a recogniser for a streaming transducer
// (onnx.OpenTransducer): icefall models get Kaldi fbank features, the
// model's search (greedy or modified beam, set when the model was made) and
// endpointing with the icefall reset, which keeps the encoder states and the
// decoder context; NeMo models (FastConformer, Nemotron) get NeMo log-mel
// features with the model's 80 or 128 bins, NeMo greedy search and the NeMo
// reset, which zeroes the encoder caches and restarts the prediction
// network. opts.Scheduler must be nil: transducer streams call the model
// directly.
func NewTransducer(m *onnx.TransducerModel, opts Options, emit func(decoder.Result)) (*Recognizer, error) {
	p := m.Params()
	fo, err := featureOptions(p.FeatureType, p.FeatureDim)
	if err != nil {
		return nil, err
	}
	if opts.Scheduler != nil {
		return nil, errors.New("recognizer: the scheduler batches CTC models only")
	}
	feat, err := features.New(fo)
	if err != nil {
		return nil, fmt.Errorf("recognizer: features: %w", err)
	}
	st, err := m.NewStreamer(0)
	if err != nil {
		return nil, fmt.Errorf("recognizer: %w", err)
	}
	return newRecognizer(opts, emit, feat, st, st.Search(), p.Subsampling), nil
}

func newRecognizer(opts Options, emit func(decoder.Result), feat *features.Extractor, st stream, se search, subsampling int) *Recognizer {
	if opts.Track == "" {
		opts.Track = decoder.TrackVerbatim
	}
	ep := endpoint.DefaultOptions()
	if opts.Endpoint != nil {
		ep = *opts.Endpoint
	}
	return &Recognizer{
		opts:     opts,
		ep:       ep,
		emit:     emit,
		feat:     feat,
		stream:   st,
		search:   se,
		frameDur: time.Duration(subsampling) * 10 * time.Millisecond,
	}
}

// Accept feeds one frame of audio. A frame marked Discontinuity finalises
// what came before and re-anchors the stream on its PTS.
func (r *Recognizer) Accept(f ingest.Frame) error {
	if f.Discontinuity && r.started {
		if err := r.Finish(); err != nil {
			return err
		}
	}
	if !r.started {
		r.restart(f.PTS)
	}
	if err := r.feat.AcceptSamples(f.Samples); err != nil {
		return fmt.Errorf("recognizer: features: %w", err)
	}
	return r.pump()
}

// Finish ends the current segment: it flushes the features and the model and
// emits a final result for whatever words are left. The next Accept starts a
// fresh segment anchored on its frame's PTS.
func (r *Recognizer) Finish() error {
	if !r.started {
		return nil
	}
	r.feat.InputFinished()
	if err := r.pump(); err != nil {
		return err
	}
	if err := r.stream.Finish(); err != nil {
		return fmt.Errorf("recognizer: %w", err)
	}
	r.final()
	r.started = false
	return nil
}

// Close releases the recogniser's place in its scheduler (a no-op without
// one); it does not emit anything, so call Finish first to keep the last
// words. Later model calls fail with onnx.ErrClosed.
func (r *Recognizer) Close() {
	r.stream.Close()
}

func (r *Recognizer) restart(pts int64) {
	r.feat.Reset()
	r.stream.Reset(pts)
	r.started = true
	r.partial = ""
}

// pump moves every ready feature frame into the model and checks for
// endpoints after each model call.
func (r *Recognizer) pump() error {
	n := r.feat.Pending()
	if n == 0 {
		return nil
	}
	r.scratch, _ = r.feat.PopFrames(r.scratch[:0], n)
	calls := r.stream.Calls()
	if err := r.stream.Accept(r.scratch); err != nil {
		return fmt.Errorf("recognizer: %w", err)
	}
	if r.stream.Calls() == calls {
		return nil
	}
	g := r.search
	if rule := r.ep.Check(g.Frames(), g.TrailingBlanks(), r.frameDur); rule != 0 {
		r.final()
		return nil
	}
	if r.opts.Partials {
		words := g.Words()
		res := decoder.Result{Track: r.opts.Track, Words: words, Segment: r.segment}
		if t := res.Text(); t != r.partial {
			r.partial = t
			r.emit(res)
		}
	}
	return nil
}

// final cuts the segment and emits its words as a final result, if any.
func (r *Recognizer) final() {
	words := r.stream.Cut()
	r.partial = ""
	if len(words) == 0 {
		return
	}
	r.emit(decoder.Result{Track: r.opts.Track, Words: words, Final: true, Segment: r.segment})
	r.segment++
}
