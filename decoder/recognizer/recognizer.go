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
	// CommitAfter enables early commits: after each model call, words that
	// can no longer change are emitted as a final result marked Continues,
	// without waiting for an endpoint, so captions follow the speech
	// within seconds however long the speaker goes on. Words every
	// hypothesis of the search agrees on are committed at once (greedy
	// search: every finished word); a word that the search still weighs
	// alternatives for is committed, with the best hypothesis's reading,
	// once it ended CommitAfter ago. 0: words become final only at
	// endpoints.
	CommitAfter time.Duration
	// Scheduler, when set, batches this stream's model calls with other
	// streams'; it must schedule the Model given to New. Nil: the
	// recogniser calls the model directly.
	Scheduler *onnx.Scheduler
	// TransducerScheduler, when set, batches a transducer stream's encoder
	// calls and search with other streams'; it must schedule the
	// TransducerModel given to NewTransducer. Nil: the recogniser calls the
	// model directly.
	TransducerScheduler *onnx.TransducerScheduler
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
// endpointing: *ctc.Greedy, *ctc.Beam and *transducer.Stream provide it.
type search interface {
	Frames() int64
	TrailingBlanks() int64
	InWord() bool
	Words() []decoder.Word
	Commit() []decoder.Word
	SetCommitForce(frames int64)
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
	heads    []head // the verbatim head first; endpoints follow its search
	frameDur time.Duration
	started  bool
	scratch  []float32
}

// head is one output track of the model: the verbatim head, or a second
// (subtitle) head on the same encoder output.
type head struct {
	track   string
	search  search // the same object for the stream's whole life
	segment uint64
	partial string // text of the last partial emitted
}

// headCutter is a stream with more than one head: its cut ends every
// head's segment at the same frame, verbatim first.
type headCutter interface {
	CutHeads() []onnx.TrackWords
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
	var heads []head
	for _, hs := range st.HeadSearches() {
		heads = append(heads, head{track: hs.Track, search: hs.Search})
	}
	return newRecognizer(opts, emit, feat, st, heads, c.Subsampling), nil
}

// NewTransducer returns a recogniser for a streaming transducer
// (onnx.OpenTransducer): icefall models get Kaldi fbank features, the
// model's search (greedy or modified beam, set when the model was made) and
// endpointing with the icefall reset, which keeps the encoder states and the
// decoder context; NeMo models (FastConformer, Nemotron) get NeMo log-mel
// features with the model's 80 or 128 bins, NeMo greedy search and the NeMo
// reset, which zeroes the encoder caches and restarts the prediction
// network. opts.TransducerScheduler, when set, batches the stream with
// others; opts.Scheduler (CTC) must be nil.
func NewTransducer(m *onnx.TransducerModel, opts Options, emit func(decoder.Result)) (*Recognizer, error) {
	p := m.Params()
	fo, err := featureOptions(p.FeatureType, p.FeatureDim)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.Scheduler != nil:
		return nil, errors.New("recognizer: Options.Scheduler batches CTC models only (use TransducerScheduler)")
	case opts.TransducerScheduler != nil && opts.TransducerScheduler.Model() != m:
		return nil, errors.New("recognizer: the transducer scheduler runs a different model")
	}
	feat, err := features.New(fo)
	if err != nil {
		return nil, fmt.Errorf("recognizer: features: %w", err)
	}
	var st *onnx.TransducerStreamer
	if opts.TransducerScheduler != nil {
		st, err = opts.TransducerScheduler.NewStreamer(0)
	} else {
		st, err = m.NewStreamer(0)
	}
	if err != nil {
		return nil, fmt.Errorf("recognizer: %w", err)
	}
	return newRecognizer(opts, emit, feat, st, []head{{search: st.Search()}}, p.Subsampling), nil
}

func newRecognizer(opts Options, emit func(decoder.Result), feat *features.Extractor, st stream, heads []head, subsampling int) *Recognizer {
	if opts.Track == "" {
		opts.Track = decoder.TrackVerbatim
	}
	ep := endpoint.DefaultOptions()
	if opts.Endpoint != nil {
		ep = *opts.Endpoint
	}
	frameDur := time.Duration(subsampling) * 10 * time.Millisecond
	heads[0].track = opts.Track
	if opts.CommitAfter > 0 {
		for _, h := range heads {
			h.search.SetCommitForce(max(1, int64((opts.CommitAfter+frameDur-1)/frameDur)))
		}
	}
	return &Recognizer{
		opts:     opts,
		ep:       ep,
		emit:     emit,
		feat:     feat,
		stream:   st,
		heads:    heads,
		frameDur: frameDur,
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
	for i := range r.heads {
		r.heads[i].partial = ""
	}
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
	g := r.heads[0].search
	if rule := r.ep.Check(g.Frames(), g.TrailingBlanks(), g.InWord(), r.frameDur); rule != 0 {
		r.final()
		return nil
	}
	for i := range r.heads {
		h := &r.heads[i]
		if r.opts.CommitAfter > 0 {
			if words := h.search.Commit(); len(words) > 0 {
				r.emit(decoder.Result{Track: h.track, Words: words, Final: true, Continues: true, Segment: h.segment})
				h.segment++
				h.partial = ""
			}
		}
		if r.opts.Partials {
			res := decoder.Result{Track: h.track, Words: h.search.Words(), Segment: h.segment}
			if t := res.Text(); t != h.partial {
				h.partial = t
				r.emit(res)
			}
		}
	}
	return nil
}

// final cuts the segment of every head and emits each head's words as a
// final result, if any.
func (r *Recognizer) final() {
	if hc, ok := r.stream.(headCutter); ok && len(r.heads) > 1 {
		for i, tw := range hc.CutHeads() {
			r.finalHead(&r.heads[i], tw.Words)
		}
		return
	}
	r.finalHead(&r.heads[0], r.stream.Cut())
}

func (r *Recognizer) finalHead(h *head, words []decoder.Word) {
	h.partial = ""
	if len(words) == 0 {
		return
	}
	r.emit(decoder.Result{Track: h.track, Words: words, Final: true, Segment: h.segment})
	h.segment++
}

// Tracks names the tracks the recogniser emits, verbatim (Options.Track)
// first, then those of the model's second heads.
func (r *Recognizer) Tracks() []string {
	out := make([]string, len(r.heads))
	for i, h := range r.heads {
		out[i] = h.track
	}
	return out
}
