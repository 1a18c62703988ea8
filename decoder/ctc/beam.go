package ctc

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

// Defaults of BeamOptions.
const (
	DefaultBeam      = 8
	DefaultTokenBeam = 10.0
	// MaxBeam bounds BeamOptions.Beam.
	MaxBeam = 1024
)

// Merge says how the alignments of one label prefix are combined.
type Merge uint8

const (
	// MergeSum scores a prefix by the total probability of its alignments
	// (log-add), the classic CTC prefix beam search.
	MergeSum Merge = iota
	// MergeMax scores a prefix by its best alignment (Viterbi). With no
	// lexicon, no LM and no word bonus the best prefix is then greedy
	// search's output (with the same PauseBreak), for any beam width.
	MergeMax
)

// BeamOptions configures a Beam. The zero value is prefix beam search of
// width DefaultBeam with no lexicon and no language model.
type BeamOptions struct {
	// Beam is the number of prefixes kept after each frame (0: DefaultBeam).
	Beam int
	// Lexicon, when set, restricts words to its entries: the open word of a
	// prefix must be a path of its trie and a finished word must be a word.
	// It must have been built for the search's token table.
	Lexicon *Lexicon
	// LM, when set, scores every finished word: Alpha·ln P(word | history)
	// is added when a word ends, and Alpha·ln P(</s> | history) when the
	// segment is cut. The history starts at <s> in every segment. With a
	// lexicon, the open word carries Alpha times the best unigram
	// log-probability of the words it can still become (lookahead), replaced
	// by the real score when it ends.
	LM *LM
	// Alpha is the LM weight (natural-log units; acoustic scores are
	// natural-log probabilities).
	Alpha float64
	// Beta is added for every finished word (word insertion bonus), with
	// or without an LM.
	Beta float64
	// UnkPenalty is subtracted, in place of the LM score, for a word the LM
	// does not know when the LM has no <unk> (with <unk>, the word is
	// scored as <unk>).
	UnkPenalty float64
	// TokenBeam: a token whose log-prob is more than TokenBeam below the
	// frame's best does not start a new label in that frame (0:
	// DefaultTokenBeam; +Inf: no pruning). Blank and repeats are never pruned.
	TokenBeam float64
	// Merge is MergeSum (default) or MergeMax.
	Merge Merge
	// PauseBreak: after this much blank, a token that begins
	// with a letter or digit starts a new word even without a word break,
	// as in Greedy (0: DefaultPauseBreak; negative: never). With a lexicon
	// that needs the open word to be a word; if it is not, the word goes on.
	PauseBreak time.Duration
}

// Beam is streaming CTC prefix beam search for one stream, with an optional
// lexicon and word n-gram LM. It keeps the Beam best label prefixes; per
// frame it tries every allowed token on every prefix (once more after a
// pause), so the work per frame is O(Beam × V). Words, times and confidences follow the assembly of
// Greedy: "▁" pieces and break tokens end words, a word starts at the output
// frame of its first token and ends one output frame after the last frame
// of its last token's run, and its confidence is the mean probability of
// its tokens at the frames where they were emitted, all taken from the best
// alignment feeding each prefix. Ties are broken by the order in which
// candidates are generated (prefix rank, then token), so results are
// deterministic. Not safe for concurrent use.
type Beam struct {
	tok    *Tokens
	blank  int
	sub    int64
	anchor int64
	frames int64
	opt    BeamOptions
	lexlm  *lexLM // lexicon with LM: lookahead and LM word ids

	all, breaks, skips []int32   // non-blank tokens by kind
	isBreak            []bool    // token id → word break
	pauseLabel         int32     // the label of a pause that ends a word: the first break token, else noLabel
	rootStarts         []lexEdge // lexicon root edges of word-start pieces
	rootPause          []lexEdge // lexicon root edges of pause-breaking tokens
	contrib            []bool    // token id → adds text to the open word
	pauseTok           []bool    // token id → starts a new word after a pause
	pause              int64     // blank frames that make a pause (0: never)

	hyps  []hyp
	cands []hyp
	index map[uint64]int32
	fl    []flushInfo
	order []int32
	buf   []byte
	ids   []int32

	done         int32      // words of the segment already committed
	force        int64      // see SetCommitForce
	chain, other []*wordRec // Commit's scratch
}

// seqNode is one label of a prefix; prefixes share their beginnings.
//
// Prefixes are kept canonical, so that label sequences that spell the same
// words with the same future are one prefix: a word break emitted with no
// word open is left out once another label follows it (and a second break
// replaces it), and a pause that ends a word is recorded as a word break.
type seqNode struct {
	parent *seqNode
	tok    int32
}

// wordRec is one finished word of a hypothesis.
type wordRec struct {
	prev        *wordRec
	depth       int32    // 1 for the segment's first word
	end         *seqNode // the word's last label
	n           int32    // labels from the word's first token to end
	first, last int64
	confSum     float64
	confN       int32
}

// meta is what differs between alignments of the same prefix: word times,
// confidences and trailing blanks.
type meta struct {
	words       *wordRec
	first, last int64 // open word: frame of its first token, last frame of its last token's run
	confSum     float64
	confN       int32
	trail       int64 // blank frames at the end
}

// hyp is one prefix: its labels, lexicon and LM state, and its
// probabilities ending in blank (pb) and in its last label (pnb), each
// with the meta of its best alignment.
type hyp struct {
	parent  *seqNode
	tok     int32    // last label; -1 for the empty prefix
	seq     *seqNode // {parent, tok} as a node once kept; nil for the empty prefix
	hash    uint64   // of the labels: mixHash(phash, tok)
	phash   uint64   // of parent's labels
	noop    bool     // tok is a word break that ended no word
	node    int32    // lexicon node of the open word (rootNode: none open)
	wordLen int32    // labels since the open word's first token (0: none open)
	lms     lmState
	lm      float64 // LM scores, word bonuses and lookahead so far
	pb, pnb float64
	mb, mnb meta
	cb, cnb float64 // candidates: best single contribution to pb, pnb
	score   float64
}

// flushInfo is the lazily computed end of the open word of hyps[i].
type flushInfo struct {
	state       uint8 // 0: not computed, 1: the word can end, 2: it cannot
	pauseNode   *seqNode
	lms         lmState
	delta       float64
	recB, recNB *wordRec
}

const emptyHash uint64 = 0x243f6a8885a308d3

// noLabel stands for "no token" where a label is needed: the word break of
// a vocabulary without one.
const noLabel int32 = -2

var negInf = math.Inf(-1)

// NewBeam starts a beam search. subsampling is R (feature frames per output
// frame) and anchor the PTS of feature frame 0.
func NewBeam(tokens *Tokens, blankID, subsampling int, anchor int64, opt BeamOptions) (*Beam, error) {
	if tokens == nil || tokens.Len() == 0 {
		return nil, errors.New("ctc: empty token table")
	}
	if blankID < 0 || blankID >= tokens.Len() {
		return nil, fmt.Errorf("ctc: blank id %d outside the vocabulary of %d", blankID, tokens.Len())
	}
	if subsampling < 1 {
		return nil, fmt.Errorf("ctc: subsampling factor %d < 1", subsampling)
	}
	if opt.Beam == 0 {
		opt.Beam = DefaultBeam
	}
	if opt.Beam < 1 || opt.Beam > MaxBeam {
		return nil, fmt.Errorf("ctc: beam %d outside 1..%d", opt.Beam, MaxBeam)
	}
	if opt.TokenBeam == 0 {
		opt.TokenBeam = DefaultTokenBeam
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"alpha", opt.Alpha}, {"beta", opt.Beta}, {"unk penalty", opt.UnkPenalty}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return nil, fmt.Errorf("ctc: beam %s %v is not finite", f.name, f.v)
		}
	}
	if math.IsNaN(opt.TokenBeam) || opt.TokenBeam < 0 {
		return nil, fmt.Errorf("ctc: token beam %v < 0", opt.TokenBeam)
	}
	switch {
	case opt.PauseBreak == 0:
		opt.PauseBreak = DefaultPauseBreak
	case opt.PauseBreak < 0:
		opt.PauseBreak = 0
	}
	if opt.Merge != MergeSum && opt.Merge != MergeMax {
		return nil, fmt.Errorf("ctc: unknown merge %d", opt.Merge)
	}
	if opt.Lexicon != nil && !sameTokens(opt.Lexicon.tokens, tokens) {
		return nil, errors.New("ctc: the lexicon was built for another token table")
	}
	b := &Beam{tok: tokens, blank: blankID, sub: int64(subsampling), opt: opt, index: map[uint64]int32{}}
	if d := opt.PauseBreak; d > 0 {
		frame := time.Duration(subsampling) * 10 * time.Millisecond
		b.pause = max(1, int64((d+frame-1)/frame))
	}
	b.contrib = make([]bool, tokens.Len())
	b.pauseTok = make([]bool, tokens.Len())
	b.isBreak = make([]bool, tokens.Len())
	b.pauseLabel = noLabel
	for id := range tokens.pieces {
		p := &tokens.pieces[id]
		b.contrib[id] = p.kind == kindByte || (p.kind == kindText && p.text != "")
		b.pauseTok[id] = b.pause > 0 && !p.wordStart && p.startsAlnum() && id != blankID
		if id == blankID {
			continue
		}
		b.all = append(b.all, int32(id))
		switch p.kind {
		case kindBreak:
			b.breaks = append(b.breaks, int32(id))
			b.isBreak[id] = true
			if b.pauseLabel == noLabel {
				b.pauseLabel = int32(id)
			}
		case kindSkip:
			b.skips = append(b.skips, int32(id))
		}
	}
	if l := opt.Lexicon; l != nil {
		for _, e := range l.children(rootNode) {
			if tokens.pieces[e.tok].wordStart {
				b.rootStarts = append(b.rootStarts, e)
			}
			if b.pauseTok[e.tok] {
				b.rootPause = append(b.rootPause, e)
			}
		}
		if opt.LM != nil {
			b.lexlm = l.withLM(opt.LM)
		}
	}
	b.Reset(anchor)
	return b, nil
}

func sameTokens(a, b *Tokens) bool {
	if a == b {
		return true
	}
	if a.Len() != b.Len() {
		return false
	}
	for i := range a.pieces {
		if a.pieces[i].sym != b.pieces[i].sym {
			return false
		}
	}
	return true
}

// Reset forgets all output and re-anchors frame 0 at anchor. The LM
// history restarts at <s>.
func (b *Beam) Reset(anchor int64) {
	b.anchor, b.frames, b.done = anchor, 0, 0
	root := hyp{tok: -1, hash: emptyHash, pb: 0, pnb: negInf, cb: negInf, cnb: negInf}
	if b.opt.LM != nil {
		root.lms = b.opt.LM.start()
	}
	b.hyps = append(b.hyps[:0], root)
}

// Accept consumes log-probs of consecutive output frames, laid out [frames][V].
func (b *Beam) Accept(logProbs []float32) error {
	v := b.tok.Len()
	if len(logProbs)%v != 0 {
		return fmt.Errorf("%w: %d values, V=%d", ErrShape, len(logProbs), v)
	}
	for off := 0; off < len(logProbs); off += v {
		b.step(logProbs[off : off+v])
	}
	return nil
}

// lp reads a log-prob, NaN as -Inf.
func lp(row []float32, id int32) float64 {
	x := float64(row[id])
	if math.IsNaN(x) {
		return negInf
	}
	return x
}

// step advances every prefix by one output frame.
func (b *Beam) step(row []float32) {
	t := b.frames
	b.frames++
	best := negInf
	for i := range row {
		best = max(best, lp(row, int32(i)))
	}
	thr := best - b.opt.TokenBeam
	b.cands = b.cands[:0]
	clear(b.index)
	if cap(b.fl) < len(b.hyps) {
		b.fl = make([]flushInfo, len(b.hyps))
	}
	b.fl = b.fl[:len(b.hyps)]
	clear(b.fl)
	lpBlank := lp(row, int32(b.blank))
	for i := range b.hyps {
		h := &b.hyps[i]
		// Blank: the prefix stays and now ends in blank.
		c := b.stay(h)
		if h.pb > negInf {
			m := h.mb
			m.trail++
			b.addB(c, h.pb+lpBlank, &m)
		}
		if h.pnb > negInf {
			m := h.mnb
			m.trail++
			b.addB(c, h.pnb+lpBlank, &m)
			// Repeat of the last label: collapsed into it.
			if h.tok >= 0 {
				m := h.mnb
				m.trail = 0
				if b.contrib[h.tok] && h.wordLen > 0 {
					m.last = t
				}
				b.addNB(c, h.pnb+lp(row, h.tok), &m)
			}
		}
		// New labels.
		l := b.opt.Lexicon
		switch {
		case l == nil:
			paused := b.paused(h)
			for _, id := range b.all {
				if x := lp(row, id); x >= thr {
					b.extend(i, id, x, t)
					if paused && b.pauseTok[id] {
						b.extendPause(i, id, x, t)
					}
				}
			}
		case h.wordLen == 0:
			for _, e := range l.children(rootNode) {
				if x := lp(row, e.tok); x >= thr {
					b.extend(i, e.tok, x, t)
				}
			}
			b.extendAll(i, b.breaks, row, thr, t)
			b.extendAll(i, b.skips, row, thr, t)
		default:
			for _, e := range l.children(h.node) {
				if x := lp(row, e.tok); x >= thr {
					b.extend(i, e.tok, x, t)
				}
			}
			if l.nodes[h.node].word >= 0 {
				for _, e := range b.rootStarts {
					if x := lp(row, e.tok); x >= thr {
						b.extend(i, e.tok, x, t)
					}
				}
				b.extendAll(i, b.breaks, row, thr, t)
				if b.paused(h) {
					for _, e := range b.rootPause {
						if x := lp(row, e.tok); x >= thr {
							b.extendPause(i, e.tok, x, t)
						}
					}
				}
			}
			b.extendAll(i, b.skips, row, thr, t)
		}
	}
	b.prune()
}

func (b *Beam) extendAll(i int, ids []int32, row []float32, thr float64, t int64) {
	for _, id := range ids {
		if x := lp(row, id); x >= thr {
			b.extend(i, id, x, t)
		}
	}
}

// stay returns the candidate of hyps' prefix h itself.
func (b *Beam) stay(h *hyp) int {
	i, key, ok := b.lookup(h.hash, h.parent, h.tok)
	if ok {
		if b.cands[i].seq == nil {
			b.cands[i].seq = h.seq
		}
		return i
	}
	c := *h
	c.pb, c.pnb, c.cb, c.cnb = negInf, negInf, negInf, negInf
	return b.insert(key, c)
}

// lookup finds the candidate with labels parent + tok.
func (b *Beam) lookup(hash uint64, parent *seqNode, tok int32) (idx int, key uint64, found bool) {
	for key = hash; ; key++ {
		i, ok := b.index[key]
		if !ok {
			return -1, key, false
		}
		if c := &b.cands[i]; c.tok == tok && seqEqual(c.parent, parent) {
			return int(i), key, true
		}
	}
}

func (b *Beam) insert(key uint64, c hyp) int {
	b.cands = append(b.cands, c)
	i := len(b.cands) - 1
	b.index[key] = int32(i)
	return i
}

func seqEqual(a, b *seqNode) bool {
	for a != b {
		if a == nil || b == nil || a.tok != b.tok {
			return false
		}
		a, b = a.parent, b.parent
	}
	return true
}

func mixHash(h uint64, tok int32) uint64 {
	z := (h ^ uint64(uint32(tok)+1)) * 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// add merges one alignment's score into a probability, by the merge rule.
func (b *Beam) add(p, x float64) float64 {
	if b.opt.Merge == MergeMax {
		return max(p, x)
	}
	return logAdd(p, x)
}

func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if b == negInf {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

func (b *Beam) addB(i int, x float64, m *meta) {
	c := &b.cands[i]
	c.pb = b.add(c.pb, x)
	if x > c.cb {
		c.cb, c.mb = x, *m
	}
}

func (b *Beam) addNB(i int, x float64, m *meta) {
	c := &b.cands[i]
	c.pnb = b.add(c.pnb, x)
	if x > c.cnb {
		c.cnb, c.mnb = x, *m
	}
}

// extend adds label id, of log-prob x at frame t, to hyps[i].
func (b *Beam) extend(i int, id int32, x float64, t int64) {
	h := &b.hyps[i]
	p := &b.tok.pieces[id]
	l := b.opt.Lexicon
	node, wl, lms, lm := h.node, h.wordLen, h.lms, h.lm
	var fl *flushInfo
	var begin, cont bool
	switch {
	case p.kind == kindSkip:
		if wl > 0 {
			wl++
		}
	case p.kind == kindBreak:
		if wl > 0 {
			if fl = b.flush(i); fl == nil {
				return
			}
			node, wl, lms, lm = rootNode, 0, fl.lms, lm+fl.delta
		}
	case b.contrib[id]:
		if p.wordStart && wl > 0 {
			if fl = b.flush(i); fl == nil {
				return
			}
			node, wl, lms, lm = rootNode, 0, fl.lms, lm+fl.delta
		}
		if l != nil {
			next := l.child(node, id)
			if next < 0 {
				return
			}
			if b.lexlm != nil {
				lm += b.opt.Alpha * float64(b.lexlm.lookahead[next]-b.lexlm.lookahead[node])
			}
			node = next
		}
		if wl > 0 {
			wl++
			cont = true
		} else {
			wl = 1
			begin = true
		}
	default: // a text piece with no text: no label
		return
	}

	// The canonical prefix: a break after a break that ended no word
	// replaces it; any other label after such a break drops it.
	parent, phash, noop := h.seq, h.hash, false
	switch {
	case b.isBreak[id] && h.wordLen == 0 && h.tok >= 0 && b.isBreak[h.tok]:
		parent, phash, noop = h.parent, h.phash, h.noop
	case h.noop:
		parent, phash = h.parent, h.phash
	case b.isBreak[id] && h.wordLen == 0:
		noop = true
	}
	hash := mixHash(phash, id)
	ci, key, ok := b.lookup(hash, parent, id)
	if !ok {
		ci = b.insert(key, hyp{
			parent: parent, tok: id, hash: hash, phash: phash, noop: noop, node: node, wordLen: wl, lms: lms, lm: lm,
			pb: negInf, pnb: negInf, cb: negInf, cnb: negInf,
		})
	}
	prob := float64(float32(math.Exp(x)))
	from := func(m meta, rec *wordRec) meta {
		m.trail = 0
		if fl != nil {
			m.words = rec
		}
		switch {
		case begin:
			m.first, m.last, m.confSum, m.confN = t, t, prob, 1
		case cont:
			m.last = t
			m.confSum += prob
			m.confN++
		}
		return m
	}
	if h.pb > negInf && !(b.pauseTok[id] && b.paused(h) && b.flush(i) != nil) {
		var rec *wordRec
		if fl != nil {
			rec = fl.recB
		}
		m := from(h.mb, rec)
		b.addNB(ci, h.pb+x, &m)
	}
	if h.pnb > negInf && id != h.tok {
		var rec *wordRec
		if fl != nil {
			rec = fl.recNB
		}
		m := from(h.mnb, rec)
		b.addNB(ci, h.pnb+x, &m)
	}
}

// paused reports whether h has an open word and its best alignment ending
// in blank ends in a pause: a pause-breaking token then starts a new word.
func (b *Beam) paused(h *hyp) bool {
	return b.pause > 0 && h.wordLen > 0 && h.pb > negInf && h.mb.trail >= b.pause
}

// extendPause adds label id, of log-prob x at frame t, to hyps[i] after the
// pause that ends its best blank-ending alignment: the open word ends (as
// at a word break) and id begins a new one. Only that alignment contributes.
func (b *Beam) extendPause(i int, id int32, x float64, t int64) {
	fl := b.flush(i)
	if fl == nil {
		return
	}
	h := &b.hyps[i]
	node := int32(rootNode)
	lm := h.lm + fl.delta
	if l := b.opt.Lexicon; l != nil {
		if node = l.child(rootNode, id); node < 0 {
			return
		}
		if b.lexlm != nil {
			lm += b.opt.Alpha * float64(b.lexlm.lookahead[node])
		}
	}
	if fl.pauseNode == nil {
		fl.pauseNode = &seqNode{parent: h.seq, tok: b.pauseLabel}
	}
	phash := mixHash(h.hash, b.pauseLabel)
	hash := mixHash(phash, id)
	ci, key, ok := b.lookup(hash, fl.pauseNode, id)
	if !ok {
		ci = b.insert(key, hyp{
			parent: fl.pauseNode, tok: id, hash: hash, phash: phash, node: node, wordLen: 1, lms: fl.lms, lm: lm,
			pb: negInf, pnb: negInf, cb: negInf, cnb: negInf,
		})
	}
	prob := float64(float32(math.Exp(x)))
	m := h.mb
	m.words, m.trail = fl.recB, 0
	m.first, m.last, m.confSum, m.confN = t, t, prob, 1
	b.addNB(ci, h.pb+x, &m)
}

// flush ends the open word of hyps[i], once per frame; nil when the word
// cannot end there (not a lexicon word).
func (b *Beam) flush(i int) *flushInfo {
	f := &b.fl[i]
	if f.state == 0 {
		h := &b.hyps[i]
		f.state = 2
		if delta, lms, ok := b.wordEnd(h); ok {
			f.state, f.delta, f.lms = 1, delta, lms
			if h.pb > negInf {
				f.recB = h.mb.finish(h)
			}
			if h.pnb > negInf {
				f.recNB = h.mnb.finish(h)
			}
		}
	}
	if f.state != 1 {
		return nil
	}
	return f
}

// finish makes the open word of h, with this alignment's times, a finished word.
func (m *meta) finish(h *hyp) *wordRec {
	d := int32(1)
	if m.words != nil {
		d = m.words.depth + 1
	}
	return &wordRec{prev: m.words, depth: d, end: h.seq, n: h.wordLen, first: m.first, last: m.last, confSum: m.confSum, confN: m.confN}
}

// wordEnd scores the end of h's open word: the bonus, the LM score (minus
// the lookahead already counted) and the LM state after it. ok is false
// when the lexicon has no such word.
func (b *Beam) wordEnd(h *hyp) (delta float64, lms lmState, ok bool) {
	delta, lms = b.opt.Beta, h.lms
	lm := b.opt.LM
	w := oovWord
	if l := b.opt.Lexicon; l != nil {
		lw := l.nodes[h.node].word
		if lw < 0 {
			return 0, lms, false
		}
		if b.lexlm != nil {
			w = b.lexlm.lmID[lw]
			delta -= b.opt.Alpha * float64(b.lexlm.lookahead[h.node])
		}
	} else if lm != nil {
		w = lm.wordID(b.wordText(h.seq, h.wordLen))
	}
	if lm != nil {
		x, next, known := lm.score(h.lms, w)
		if known {
			delta += b.opt.Alpha * x
		} else {
			delta -= b.opt.UnkPenalty
		}
		lms = next
	}
	return delta, lms, true
}

// prune keeps the Beam best candidates, best first.
func (b *Beam) prune() {
	b.order = b.order[:0]
	for i := range b.cands {
		b.rescore(&b.cands[i])
		b.order = append(b.order, int32(i))
	}
	slices.SortStableFunc(b.order, func(x, y int32) int { return byScore(b.cands[x].score, b.cands[y].score) })
	n := min(len(b.order), b.opt.Beam)
	b.hyps = b.hyps[:0]
	for _, i := range b.order[:n] {
		c := b.cands[i]
		if c.seq == nil && c.tok >= 0 {
			c.seq = &seqNode{parent: c.parent, tok: c.tok}
		}
		b.hyps = append(b.hyps, c)
	}
	if b.force > 0 {
		b.enforce()
	}
}

// rescore sets h.score from its probabilities and LM score.
func (b *Beam) rescore(h *hyp) {
	p := logAdd(h.pb, h.pnb)
	if b.opt.Merge == MergeMax {
		p = max(h.pb, h.pnb)
	}
	h.score = p + h.lm
}

// TrailingBlanks is the number of blank output frames at the end of the
// best prefix's best alignment, the silence measure endpointing uses.
func (b *Beam) TrailingBlanks() int64 {
	h := &b.hyps[0]
	return h.best().trail
}

// best returns the meta of h's better alignment.
func (h *hyp) best() *meta {
	if h.pb >= h.pnb {
		return &h.mb
	}
	return &h.mnb
}

// InWord reports whether the best prefix has an open word that no pause
// has ended yet: a cut now would end that word where it stands. (A next
// word's first label that only weaker prefixes have taken yet is not seen.)
func (b *Beam) InWord() bool {
	h := &b.hyps[0]
	return h.wordLen > 0 && !b.paused(h)
}

// Frames is the number of output frames consumed since the last Reset.
func (b *Beam) Frames() int64 { return b.frames }

// Words returns the best prefix's words so far, the last one possibly still
// growing (and, with a lexicon, possibly a prefix of a word).
func (b *Beam) Words() []decoder.Word {
	h := &b.hyps[0]
	return b.words(h, h.best())
}

// Text returns the words so far joined by single spaces.
func (b *Beam) Text() string {
	ws := b.Words()
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

// Cut ends the segment: every prefix's open word is ended (with a lexicon,
// prefixes whose open word is not a word drop out, unless all do), </s> is
// scored, and the best prefix's words are returned. The next segment starts
// at the next output frame with an empty beam and the LM history at <s>.
func (b *Beam) Cut() []decoder.Word {
	bestI, bestS := -1, negInf
	for i := range b.hyps {
		h := &b.hyps[i]
		s := h.score
		lms := h.lms
		if h.wordLen > 0 {
			d, next, ok := b.wordEnd(h)
			if !ok {
				continue
			}
			s, lms = s+d, next
		}
		if lm := b.opt.LM; lm != nil && lm.eos != noWord {
			x, _, _ := lm.score(lms, lm.eos)
			s += b.opt.Alpha * x
		}
		if bestI < 0 || s > bestS {
			bestI, bestS = i, s
		}
	}
	if bestI < 0 {
		bestI = 0
	}
	h := &b.hyps[bestI]
	words := b.words(h, h.best())
	b.Reset(b.anchor + b.frames*b.sub*FrameTicks)
	return words
}

// SetCommitForce bounds how long a finished word of the best prefix may
// stay revisable: once it ended force output frames ago, the alignments
// (and prefixes) that disagree with it and the words before it are dropped,
// so that Commit hands it out. The check runs after every frame, so the
// result does not depend on how the log-probs are grouped into Accept calls.
// force <= 0 (the default): words are committed only when all agree.
func (b *Beam) SetCommitForce(force int64) { b.force = max(force, 0) }

// Commit returns the finished words of the segment that every kept
// alignment of every prefix has, with the same text and times, and takes
// them out of Words and Cut. No later frame can change them. LM history is
// kept.
func (b *Beam) Commit() []decoder.Word {
	chain, k := b.agreed()
	if k == 0 {
		return nil
	}
	out := make([]decoder.Word, k)
	for i, r := range chain[:k] {
		out[i] = b.word(b.wordText(r.end, r.n), r.first, r.last, r.confSum, r.confN)
	}
	b.done += int32(k)
	return out
}

// agreed returns the best alignment's uncommitted finished words, oldest
// first, and how many of them every kept alignment agrees on.
func (b *Beam) agreed() ([]*wordRec, int) {
	b.chain = b.chainOf(b.chain, b.hyps[0].best().words)
	chain := b.chain
	k := len(chain)
	for i := range b.hyps {
		if k == 0 {
			break
		}
		h := &b.hyps[i]
		if h.pb > negInf {
			k = min(k, b.agree(h.mb.words, chain))
		}
		if h.pnb > negInf {
			k = min(k, b.agree(h.mnb.words, chain))
		}
	}
	return chain, k
}

// enforce applies the commit force after a frame: the best alignment's
// finished words that ended force frames ago become agreed.
func (b *Beam) enforce() {
	chain := b.chainOf(b.chain, b.hyps[0].best().words)
	if len(chain) == 0 || chain[0].last+1 > b.frames-b.force {
		return // nothing old enough: skip the agreement walk
	}
	chain, k := b.agreed()
	f := k
	for f < len(chain) && chain[f].last+1 <= b.frames-b.force {
		f++
	}
	if f > k {
		b.keepAgreeing(chain, f)
	}
}

// keepAgreeing drops the alignments whose first f uncommitted words differ
// from chain's, and the prefixes left without an alignment. The best
// alignment of the best prefix, where chain comes from, stays.
func (b *Beam) keepAgreeing(chain []*wordRec, f int) {
	kept := b.hyps[:0]
	for i := range b.hyps {
		h := b.hyps[i]
		if h.pb > negInf && b.agree(h.mb.words, chain[:f]) < f {
			h.pb = negInf
		}
		if h.pnb > negInf && b.agree(h.mnb.words, chain[:f]) < f {
			h.pnb = negInf
		}
		if h.pb == negInf && h.pnb == negInf {
			continue
		}
		b.rescore(&h)
		kept = append(kept, h)
	}
	b.hyps = kept
	slices.SortStableFunc(b.hyps, func(x, y hyp) int { return byScore(x.score, y.score) })
}

// byScore orders higher scores first.
func byScore(x, y float64) int {
	switch {
	case x > y:
		return -1
	case x < y:
		return 1
	}
	return 0
}

// chainOf lists the uncommitted finished words ending at top, oldest first.
func (b *Beam) chainOf(dst []*wordRec, top *wordRec) []*wordRec {
	dst = dst[:0]
	for r := top; r != nil && r.depth > b.done; r = r.prev {
		dst = append(dst, r)
	}
	slices.Reverse(dst)
	return dst
}

// agree counts the leading words of chain that the alignment ending at top
// has too, with the same text and times.
func (b *Beam) agree(top *wordRec, chain []*wordRec) int {
	b.other = b.chainOf(b.other, top)
	n := 0
	for n < len(chain) && n < len(b.other) {
		x, y := chain[n], b.other[n]
		if x != y && (x.end != y.end || x.n != y.n || x.first != y.first || x.last != y.last) {
			break
		}
		n++
	}
	return n
}

// words lists the uncommitted finished words of alignment m of h, then its
// open word.
func (b *Beam) words(h *hyp, m *meta) []decoder.Word {
	n := 0
	for r := m.words; r != nil && r.depth > b.done; r = r.prev {
		n++
	}
	out := make([]decoder.Word, n, n+1)
	for r := m.words; r != nil && r.depth > b.done; r = r.prev {
		n--
		out[n] = b.word(b.wordText(r.end, r.n), r.first, r.last, r.confSum, r.confN)
	}
	if h.wordLen > 0 {
		if text := b.wordText(h.seq, h.wordLen); text != "" {
			out = append(out, b.word(text, m.first, m.last, m.confSum, m.confN))
		}
	}
	return out
}

func (b *Beam) word(text string, first, last int64, confSum float64, confN int32) decoder.Word {
	conf := float32(0)
	if confN > 0 {
		conf = float32(confSum / float64(confN))
	}
	return decoder.Word{
		Text:  text,
		Start: b.anchor + first*b.sub*FrameTicks,
		End:   b.anchor + (last+1)*b.sub*FrameTicks,
		Conf:  conf,
	}
}

// wordText assembles the text of the n labels ending at end.
func (b *Beam) wordText(end *seqNode, n int32) string {
	b.ids = b.ids[:0]
	for s := end; s != nil && n > 0; s, n = s.parent, n-1 {
		b.ids = append(b.ids, s.tok)
	}
	b.buf = b.buf[:0]
	for i := len(b.ids) - 1; i >= 0; i-- {
		if b.ids[i] < 0 {
			continue
		}
		p := &b.tok.pieces[b.ids[i]]
		switch p.kind {
		case kindText:
			b.buf = append(b.buf, p.text...)
		case kindByte:
			b.buf = append(b.buf, p.b)
		}
	}
	return text(b.buf)
}
