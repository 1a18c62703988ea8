// Package transducer is streaming search for transducer (RNN-T) models, batched
// over streams: for icefall models with a stateless prediction network
// (reference MODEL-CONTRACT §1.1, §1.7-§1.10), greedy search (the default) and
// modified beam search with <unk> treated as blank; for NeMo models whose
// prediction network is an LSTM with state (§2.2-§2.3), NeMo greedy search with
// the blank last and up to 10 symbols per frame. Both have byte-fallback
// tokens, word timestamps from output frame indices and the per-family reset
// at an endpoint. It runs no model itself: a Net or a StatefulNet supplies the
// decoder and joiner.
package transducer

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/ctc"
)

// FrameTicks is the length of one 10 ms feature frame in 90 kHz units.
const FrameTicks = ctc.FrameTicks

// BlankID is the blank token; icefall transducers hard-code it to 0.
const BlankID = 0

// Search methods.
const (
	Greedy       = "greedy_search"
	ModifiedBeam = "modified_beam_search"
)

// Defaults of Options.
const (
	DefaultBeam               = 4
	DefaultMaxSymbolsPerFrame = 1
	DefaultSubsampling        = 4
)

var (
	// ErrOptions means the search options are invalid.
	ErrOptions = errors.New("transducer: invalid search options")
	// ErrVocab means the model's vocabulary does not match the token table.
	ErrVocab = errors.New("transducer: vocabulary mismatch")
	// ErrShape means encoder output or net output of the wrong size.
	ErrShape = errors.New("transducer: wrong tensor size")
)

// Net is a transducer's prediction network (decoder) and joiner, batched over
// rows. Implementations must not keep the slices they are given.
type Net interface {
	// ContextSize is C, the number of previous tokens the decoder sees.
	ContextSize() int
	// VocabSize is V, the number of joiner outputs.
	VocabSize() int
	// JoinerDim is J, the width of the encoder and decoder outputs.
	JoinerDim() int
	// RunDecoder runs the decoder on len(ctx)/C rows of C token ids each
	// (oldest first; -1 means none) and writes [rows][J] into out.
	RunDecoder(ctx []int64, out []float32) error
	// RunJoiner runs the joiner on rows pairs enc [rows][J], dec [rows][J]
	// and writes the raw logits [rows][V] into out.
	RunJoiner(enc, dec, out []float32) error
}

// Options configure the search. The zero value is greedy search with one
// symbol per frame and subsampling 4.
type Options struct {
	// Method is Greedy ("" too) or ModifiedBeam.
	Method string
	// Beam is the number of active paths of modified beam search (0: DefaultBeam).
	Beam int
	// MaxSymbolsPerFrame bounds the tokens greedy search emits per encoder
	// frame (0: DefaultMaxSymbolsPerFrame for New, DefaultStatefulMaxSymbols
	// for NewStateful, as sherpa-onnx).
	MaxSymbolsPerFrame int
	// Subsampling is the number of 10 ms feature frames per encoder output
	// frame (0: DefaultSubsampling, all icefall models, for New;
	// DefaultStatefulSubsampling, NeMo, for NewStateful).
	Subsampling int
}

func (o Options) withDefaults() (Options, error) {
	switch o.Method {
	case "", "greedy", Greedy:
		o.Method = Greedy
	case "modified_beam", "beam", ModifiedBeam:
		o.Method = ModifiedBeam
	default:
		return o, fmt.Errorf("%w: method %q (want %s or %s)", ErrOptions, o.Method, Greedy, ModifiedBeam)
	}
	if o.Beam == 0 {
		o.Beam = DefaultBeam
	}
	if o.MaxSymbolsPerFrame == 0 {
		o.MaxSymbolsPerFrame = DefaultMaxSymbolsPerFrame
	}
	if o.Subsampling == 0 {
		o.Subsampling = DefaultSubsampling
	}
	switch {
	case o.Beam < 1 || o.Beam > 64:
		return o, fmt.Errorf("%w: beam %d outside 1..64", ErrOptions, o.Beam)
	case o.MaxSymbolsPerFrame < 1 || o.MaxSymbolsPerFrame > 16:
		return o, fmt.Errorf("%w: max symbols per frame %d outside 1..16", ErrOptions, o.MaxSymbolsPerFrame)
	case o.Subsampling < 1:
		return o, fmt.Errorf("%w: subsampling %d < 1", ErrOptions, o.Subsampling)
	}
	return o, nil
}

// Searcher runs the search of many streams over one Net (or StatefulNet).
// Decode calls are serialised; Streams must not be used by two goroutines at
// once.
type Searcher struct {
	net   Net         // icefall; nil for a stateful net
	sn    StatefulNet // NeMo; nil for a stateless net
	tok   *ctc.Tokens
	opts  Options
	c, v  int
	je    int // width of an encoder output frame
	jd    int // width of a decoder output
	ss    int // floats of one row's prediction-network state (stateful nets)
	blank int // 0 (icefall) or V-1 (NeMo)
	unk   int // <unk>, treated as blank; -1 when the vocabulary has none or for NeMo

	mu     sync.Mutex
	ctx    []int64   // decoder input rows
	tok32  []int32   // stateful decoder input tokens
	stIn   []float32 // stateful decoder input states
	stOut  []float32
	decOut []float32 // decoder output rows
	enc    []float32 // joiner input rows
	dec    []float32
	logits []float32
}

// New makes a Searcher. The Net's vocabulary must be the token table's.
func New(net Net, tokens *ctc.Tokens, opts Options) (*Searcher, error) {
	if net == nil || tokens == nil {
		return nil, fmt.Errorf("%w: nil net or token table", ErrOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	j := net.JoinerDim()
	s := &Searcher{net: net, tok: tokens, opts: o, c: net.ContextSize(), v: net.VocabSize(), je: j, jd: j, unk: -1, blank: BlankID}
	switch {
	case s.c < 1:
		return nil, fmt.Errorf("%w: context size %d < 1", ErrOptions, s.c)
	case j < 1:
		return nil, fmt.Errorf("%w: joiner dim %d < 1", ErrOptions, j)
	case s.v != tokens.Len():
		return nil, fmt.Errorf("%w: the joiner has %d outputs but the token table has %d tokens", ErrVocab, s.v, tokens.Len())
	case s.v < 2:
		return nil, fmt.Errorf("%w: vocabulary of %d tokens", ErrVocab, s.v)
	}
	if id, ok := tokens.Lookup("<unk>"); ok && id != BlankID {
		s.unk = id
	}
	return s, nil
}

// Options returns the effective options.
func (s *Searcher) Options() Options { return s.opts }

// Tokens returns the token table.
func (s *Searcher) Tokens() *ctc.Tokens { return s.tok }

// hyp is one hypothesis: the decoder context prefix and the tokens emitted in
// the current segment, each with its output frame and probability.
type hyp struct {
	ys       []int // C context entries, then the emitted tokens
	frames   []int64
	probs    []float32
	logp     float64
	trailing int64
	dec      []float32 // decoder output for the last C entries of ys; nil: not computed
	// state is a stateful net's prediction-network state (nil: zeros): the
	// state dec came out with, or, while dec is nil, the one to feed with the
	// last token of ys.
	state []float32
}

func (h *hyp) context(c int) []int { return h.ys[len(h.ys)-c:] }

func (h *hyp) clone() *hyp {
	return &hyp{
		ys:       append(make([]int, 0, len(h.ys)+1), h.ys...),
		frames:   append(make([]int64, 0, len(h.frames)+1), h.frames...),
		probs:    append(make([]float32, 0, len(h.probs)+1), h.probs...),
		logp:     h.logp,
		trailing: h.trailing,
		dec:      h.dec,   // read-only once computed
		state:    h.state, // read-only once computed
	}
}

func (h *hyp) emit(tok int, frame int64, prob float32) {
	h.ys = append(h.ys, tok)
	h.frames = append(h.frames, frame)
	h.probs = append(h.probs, prob)
	h.trailing = 0
	h.dec = nil
}

// score is sherpa's length-normalised score: logp / len(ys), prefix included.
func (h *hyp) score() float64 { return h.logp / float64(len(h.ys)) }

// Stream is the search state of one stream: its hypothesis (greedy) or beam,
// for the current segment, anchored at a media time. Output frame t of the
// segment stands for feature frame t·R, at anchor + t·R·900 (90 kHz).
type Stream struct {
	s      *Searcher
	anchor int64
	frames int64
	hyps   []*hyp // greedy: one; beam: up to Beam, any order
	done   int    // words of the segment already committed
	force  int64  // see SetCommitForce
}

// NewStream starts a stream whose feature frame 0 is at media time anchor.
func (s *Searcher) NewStream(anchor int64) *Stream {
	st := &Stream{s: s}
	st.Reset(anchor)
	return st
}

// Reset starts the stream afresh at anchor: no tokens, and the initial
// decoder context [-1, …, -1, 0] (sherpa-onnx); for a stateful net, the blank
// and a zero prediction-network state.
func (st *Stream) Reset(anchor int64) {
	ys := make([]int, st.s.c)
	for i := range ys[:len(ys)-1] {
		ys[i] = -1
	}
	ys[len(ys)-1] = st.s.blank
	st.anchor, st.frames, st.done = anchor, 0, 0
	st.hyps = []*hyp{{ys: ys}}
}

// best is the hypothesis with the highest length-normalised score (the first
// of equals).
func (st *Stream) best() *hyp {
	b := st.hyps[0]
	for _, h := range st.hyps[1:] {
		if h.score() > b.score() {
			b = h
		}
	}
	return b
}

// Cut ends the segment at an endpoint and returns its words. The next
// segment starts at the next output frame, so media times stay continuous.
// As sherpa-onnx does (§1.9), for icefall models the next hypothesis is
// seeded with the last C tokens of the best one, so the decoder context
// carries over; for a stateful (NeMo) net the prediction network starts
// afresh: blank and a zero state. Encoder states are not the search's
// business: the caller keeps (icefall) or resets (NeMo) them.
func (st *Stream) Cut() []decoder.Word {
	words := st.Words()
	anchor := st.anchor + st.frames*int64(st.s.opts.Subsampling)*FrameTicks
	if st.s.sn != nil {
		st.Reset(anchor)
		return words
	}
	b := st.best()
	seed := &hyp{ys: append([]int(nil), b.context(st.s.c)...), dec: b.dec}
	st.anchor = anchor
	st.frames, st.done = 0, 0
	st.hyps = []*hyp{seed}
	return words
}

// Frames is the number of encoder output frames searched in this segment.
func (st *Stream) Frames() int64 { return st.frames }

// TrailingBlanks is the number of frames since the best hypothesis last
// emitted a token (in this segment), the silence measure of endpointing.
func (st *Stream) TrailingBlanks() int64 { return st.best().trailing }

// wordGapFrames is the run of blank frames after which InWord takes the
// best hypothesis's last word as ended. A BPE word ends only when the next
// word's first token arrives, so only a short pause tells it has ended.
const wordGapFrames = 3

// InWord reports whether the best hypothesis's last word may still grow:
// it emitted a token in the segment and fewer than wordGapFrames blank
// frames followed. A cut now would split it.
func (st *Stream) InWord() bool {
	h := st.best()
	return len(h.ys) > st.s.c && h.trailing < wordGapFrames
}

// Anchor is the media time of the segment's output frame 0.
func (st *Stream) Anchor() int64 { return st.anchor }

// Tokens returns the token ids the best hypothesis emitted in this segment.
func (st *Stream) Tokens() []int {
	b := st.best()
	return append([]int(nil), b.ys[st.s.c:]...)
}

// TokenFrames returns the segment's output frame of each token of Tokens.
func (st *Stream) TokenFrames() []int64 {
	return append([]int64(nil), st.best().frames...)
}

// Context returns the decoder context of the best hypothesis, oldest first.
func (st *Stream) Context() []int {
	return append([]int(nil), st.best().context(st.s.c)...)
}

// Words returns the uncommitted words of the best hypothesis so far; the
// last one may still grow. A word starts at its first token's frame and ends
// one output frame after its last token's.
func (st *Stream) Words() []decoder.Word {
	tw := st.hypWords(st.best())
	return st.toWords(tw[min(st.done, len(tw)):])
}

// hypWords assembles all the words h emitted in the segment.
func (st *Stream) hypWords(h *hyp) []ctc.TokenWord {
	return st.s.tok.Words(h.ys[st.s.c:], h.frames, h.probs)
}

func (st *Stream) toWords(tw []ctc.TokenWord) []decoder.Word {
	sub := int64(st.s.opts.Subsampling) * FrameTicks
	out := make([]decoder.Word, len(tw))
	for i, w := range tw {
		out[i] = decoder.Word{Text: w.Text, Start: st.anchor + w.First*sub, End: st.anchor + (w.Last+1)*sub, Conf: w.Conf}
	}
	return out
}

// SetCommitForce bounds how long a finished word of the best hypothesis
// may stay revisable: once it ended force output frames ago, the
// hypotheses that disagree with it or the words before it are dropped, so
// that Commit hands it out. The check runs after every frame, so results do
// not depend on how encoder output is grouped into Decode calls. force <= 0
// (the default): words are committed only when all agree. Greedy search
// keeps one hypothesis and is not affected.
func (st *Stream) SetCommitForce(force int64) { st.force = max(force, 0) }

// Commit returns the finished words (another word has begun after them)
// that every hypothesis agrees on, text and times, and takes them out of
// Words and Cut. No later frame can change them. Greedy search keeps one
// hypothesis, so its finished words are committed at once.
func (st *Stream) Commit() []decoder.Word {
	wb, _, k := st.agreed()
	if k <= st.done {
		return nil
	}
	out := st.toWords(wb[st.done:k])
	st.done = k
	return out
}

// agreed returns the best hypothesis, its words, every hypothesis's words
// (nil for the best) and the number of leading words all agree on and have
// finished.
func (st *Stream) agreed() ([]ctc.TokenWord, [][]ctc.TokenWord, int) {
	b := st.best()
	wb := st.hypWords(b)
	k := len(wb) - 1 // the best's last word may still grow
	others := make([][]ctc.TokenWord, len(st.hyps))
	for i, h := range st.hyps {
		if h != b {
			others[i] = st.hypWords(h)
			k = min(k, agreeing(wb, others[i], st.done))
		}
	}
	return wb, others, k
}

// enforce applies the commit force after a frame: the best hypothesis's
// finished words that ended force frames ago become agreed.
func (st *Stream) enforce() {
	wb, others, k := st.agreed()
	f := max(k, st.done)
	for f < len(wb)-1 && wb[f].Last+1 <= st.frames-st.force {
		f++
	}
	if f <= max(k, st.done) {
		return
	}
	b := st.best()
	kept := st.hyps[:0]
	for i, h := range st.hyps {
		if h == b || agreeing(wb, others[i], st.done) >= f {
			kept = append(kept, h)
		}
	}
	clear(st.hyps[len(kept):])
	st.hyps = kept
}

// agreeing is the number of leading words, counting from done, that a
// hypothesis with words w has finished with the same text and times as the
// best hypothesis's words wb.
func agreeing(wb, w []ctc.TokenWord, done int) int {
	n := done
	for n < len(wb) && n < len(w)-1 && wb[n].Text == w[n].Text && wb[n].First == w[n].First && wb[n].Last == w[n].Last {
		n++
	}
	return n
}

// Text returns the words so far joined by single spaces.
func (st *Stream) Text() string {
	ws := st.Words()
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

// Decode searches one chunk of encoder output for each stream: enc[i] holds
// stream i's frames, [T'][J] flattened. Streams must belong to s and be
// distinct. The decoder and joiner run batched over all streams (and all
// their hypotheses) frame by frame.
func (s *Searcher) Decode(streams []*Stream, enc [][]float32) error {
	if len(streams) != len(enc) {
		return fmt.Errorf("%w: %d streams but %d encoder outputs", ErrShape, len(streams), len(enc))
	}
	maxT := 0
	for i, st := range streams {
		if st == nil || st.s != s {
			return fmt.Errorf("%w: stream %d does not belong to this searcher", ErrOptions, i)
		}
		if len(enc[i])%s.je != 0 {
			return fmt.Errorf("%w: encoder output of stream %d has %d values, not a multiple of %d", ErrShape, i, len(enc[i]), s.je)
		}
		maxT = max(maxT, len(enc[i])/s.je)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	active := make([]int, 0, len(streams))
	for t := 0; t < maxT; t++ {
		active = active[:0]
		for i := range streams {
			if (t+1)*s.je <= len(enc[i]) {
				active = append(active, i)
			}
		}
		var err error
		switch {
		case s.sn != nil:
			err = s.statefulFrame(streams, enc, active, t)
		case s.opts.Method == ModifiedBeam:
			err = s.beamFrame(streams, enc, active, t)
		default:
			err = s.greedyFrame(streams, enc, active, t)
		}
		if err != nil {
			return err
		}
		for _, i := range active {
			st := streams[i]
			st.frames++
			if st.force > 0 && len(st.hyps) > 1 {
				st.enforce()
			}
		}
	}
	return nil
}

// ensureDecoded runs the decoder, batched, for the hypotheses whose decoder
// output is not cached.
func (s *Searcher) ensureDecoded(hs []*hyp) error {
	if s.sn != nil {
		return s.ensureDecodedStateful(hs)
	}
	s.ctx = s.ctx[:0]
	n := 0
	for _, h := range hs {
		if h.dec != nil {
			continue
		}
		for _, y := range h.context(s.c) {
			s.ctx = append(s.ctx, int64(y))
		}
		n++
	}
	if n == 0 {
		return nil
	}
	s.decOut = grow(s.decOut, n*s.jd)
	if err := s.net.RunDecoder(s.ctx, s.decOut); err != nil {
		return err
	}
	// One fresh slice for this batch: hypotheses share cached outputs.
	out := append([]float32(nil), s.decOut...)
	r := 0
	for _, h := range hs {
		if h.dec == nil {
			h.dec = out[r*s.jd : (r+1)*s.jd : (r+1)*s.jd]
			r++
		}
	}
	return nil
}

// join runs the joiner for rows (encoder row, hypothesis) and returns the
// logits [rows][V].
func (s *Searcher) join(encRows [][]float32, hs []*hyp) ([]float32, error) {
	n := len(hs)
	s.enc = grow(s.enc, n*s.je)
	s.dec = grow(s.dec, n*s.jd)
	for r, h := range hs {
		copy(s.enc[r*s.je:(r+1)*s.je], encRows[r])
		copy(s.dec[r*s.jd:(r+1)*s.jd], h.dec)
	}
	s.logits = grow(s.logits, n*s.v)
	var err error
	if s.sn != nil {
		err = s.sn.RunJoiner(s.enc, s.dec, s.logits)
	} else {
		err = s.net.RunJoiner(s.enc, s.dec, s.logits)
	}
	if err != nil {
		return nil, err
	}
	return s.logits, nil
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// isBlank reports whether tok is treated as blank (blank or <unk>).
func (s *Searcher) isBlank(tok int) bool { return tok == s.blank || tok == s.unk }

// logSoftmax writes the log-softmax of row into out (float64).
func logSoftmax(row []float32, out []float64) {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(sum)
	for i, v := range row {
		out[i] = float64(v) - lse
	}
}

// checkFinite rejects NaN logits, which would make arg-max and top-k
// meaningless.
func checkFinite(row []float32) error {
	for i, v := range row {
		if v != v {
			return fmt.Errorf("%w: joiner logit %d is NaN", ErrShape, i)
		}
	}
	return nil
}
