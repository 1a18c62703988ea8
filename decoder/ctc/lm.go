package ctc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrARPA marks a malformed ARPA language model file.
var ErrARPA = errors.New("invalid ARPA language model")

// MaxLMOrder is the highest n-gram order LoadARPA accepts.
const MaxLMOrder = 3

// Limits of the ARPA reader.
const (
	maxARPALine = 64 << 10
	maxLMWords  = 1<<21 - 1 // word ids are packed 21 bits each into n-gram keys
	maxPrealloc = 1 << 16
	ln10        = math.Ln10
	noWord      = int32(-1) // an empty history slot
	oovWord     = int32(-2) // a history slot holding a word the LM does not know
	sentenceBeg = "<s>"
	sentenceEnd = "</s>"
	unknownWord = "<unk>"
)

// LM is a word n-gram language model with back-off (order 1 to 3), read
// from an ARPA file. Probabilities are stored as natural logarithms. An LM
// is read-only after loading and safe for concurrent use.
type LM struct {
	order int
	words []string
	ids   map[string]int32
	uni   []probBow // by word id
	bi    map[uint64]probBow
	tri   map[uint64]float32
	bos   int32 // <s>, or noWord
	eos   int32 // </s>, or noWord
	unk   int32 // <unk>, or noWord
}

type probBow struct{ prob, bow float32 }

// lmState is the word history of a hypothesis: h[1] is the last word, h[0]
// the one before; unused slots are noWord.
type lmState struct{ h [2]int32 }

func key2(a, b int32) uint64    { return uint64(a)<<21 | uint64(b) }
func key3(a, b, c int32) uint64 { return uint64(a)<<42 | uint64(b)<<21 | uint64(c) }

// LoadARPA reads an ARPA file; errors name the file and line.
func LoadARPA(path string) (*LM, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lm, err := ParseARPA(f)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return lm, nil
}

// ParseARPA reads an ARPA back-off language model: text before "\data\" is
// ignored, then "ngram N=COUNT" lines, then one "\N-grams:" section per
// order with "log10prob w1 … wN [log10backoff]" lines, then "\end\".
// Declared counts must match, every word of a higher-order n-gram must be a
// unigram, and an n-gram may not be listed twice. Errors wrap ErrARPA and
// start with "LINE: ".
func ParseARPA(r io.Reader) (*LM, error) {
	p := arpaParser{sc: bufio.NewScanner(r)}
	p.sc.Buffer(make([]byte, 0, 4096), maxARPALine)
	return p.parse()
}

type arpaParser struct {
	sc   *bufio.Scanner
	line int
	text string // current line, trimmed
}

func (p *arpaParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%d: %w: %s", p.line, ErrARPA, fmt.Sprintf(format, args...))
}

// next moves to the next line; false at the end of the input.
func (p *arpaParser) next() bool {
	if !p.sc.Scan() {
		return false
	}
	p.line++
	p.text = strings.TrimSpace(p.sc.Text())
	return true
}

func (p *arpaParser) eof(what string) error {
	if err := p.sc.Err(); err != nil {
		return fmt.Errorf("%d: %w: %w", p.line+1, ErrARPA, err)
	}
	return p.errorf("file ends before %s", what)
}

func (p *arpaParser) parse() (*LM, error) {
	// Header: skip to \data\.
	for {
		if !p.next() {
			return nil, p.eof(`\data\`)
		}
		if p.text == `\data\` {
			break
		}
	}
	var counts []int
	for {
		if !p.next() {
			return nil, p.eof("the first n-gram section")
		}
		if p.text == "" {
			continue
		}
		if strings.HasPrefix(p.text, `\`) {
			break
		}
		rest, ok := strings.CutPrefix(p.text, "ngram ")
		if !ok {
			return nil, p.errorf("want \"ngram N=COUNT\" in \\data\\, got %q", clip(p.text))
		}
		ns, cs, ok := strings.Cut(strings.TrimSpace(rest), "=")
		n, err1 := strconv.Atoi(strings.TrimSpace(ns))
		c, err2 := strconv.Atoi(strings.TrimSpace(cs))
		if !ok || err1 != nil || err2 != nil || c < 0 {
			return nil, p.errorf("bad count line %q", clip(p.text))
		}
		if n != len(counts)+1 {
			return nil, p.errorf("ngram %d listed where ngram %d was expected", n, len(counts)+1)
		}
		if n > MaxLMOrder {
			return nil, p.errorf("order %d is not supported (at most %d)", n, MaxLMOrder)
		}
		counts = append(counts, c)
	}
	if len(counts) == 0 {
		return nil, p.errorf(`no "ngram N=COUNT" lines in \data\`)
	}
	if counts[0] == 0 {
		return nil, p.errorf("no unigrams")
	}
	if counts[0] > maxLMWords {
		return nil, p.errorf("%d unigrams is more than the %d supported", counts[0], maxLMWords)
	}
	lm := &LM{
		order: len(counts),
		ids:   make(map[string]int32, min(counts[0], maxPrealloc)),
		bos:   noWord, eos: noWord, unk: noWord,
	}
	if lm.order >= 2 {
		lm.bi = make(map[uint64]probBow, min(counts[1], maxPrealloc))
	}
	if lm.order >= 3 {
		lm.tri = make(map[uint64]float32, min(counts[2], maxPrealloc))
	}
	// p.text holds the first section header.
	for n := 1; n <= lm.order; n++ {
		if want := fmt.Sprintf(`\%d-grams:`, n); p.text != want {
			return nil, p.errorf("want %s, got %q", want, clip(p.text))
		}
		got := 0
		for {
			if !p.next() {
				return nil, p.eof(`\end\`)
			}
			if p.text == "" {
				continue
			}
			if strings.HasPrefix(p.text, `\`) {
				break
			}
			if err := p.ngram(lm, n); err != nil {
				return nil, err
			}
			got++
			if got > counts[n-1] {
				return nil, p.errorf("more %d-grams than the %d declared", n, counts[n-1])
			}
		}
		if got != counts[n-1] {
			return nil, p.errorf("%d %d-grams listed, %d declared", got, n, counts[n-1])
		}
	}
	if p.text != `\end\` {
		return nil, p.errorf(`want \end\, got %q`, clip(p.text))
	}
	lm.bos, lm.eos, lm.unk = lm.id(sentenceBeg), lm.id(sentenceEnd), lm.id(unknownWord)
	return lm, nil
}

// ngram parses one line of the n-grams section.
func (p *arpaParser) ngram(lm *LM, n int) error {
	f := strings.Fields(p.text)
	if len(f) != n+1 && len(f) != n+2 {
		return p.errorf("a %d-gram line has %d or %d fields, got %d", n, n+1, n+2, len(f))
	}
	prob, err := p.number(f[0], "log10 probability")
	if err != nil {
		return err
	}
	if prob > 0 {
		return p.errorf("log10 probability %s is positive", f[0])
	}
	var bow float64
	if len(f) == n+2 {
		if bow, err = p.number(f[n+1], "log10 back-off weight"); err != nil {
			return err
		}
	}
	e := probBow{prob: float32(prob * ln10), bow: float32(bow * ln10)}
	if n == 1 {
		w := f[1]
		if !utf8.ValidString(w) {
			return p.errorf("word is not UTF-8")
		}
		if _, dup := lm.ids[w]; dup {
			return p.errorf("unigram %q listed twice", clip(w))
		}
		lm.ids[w] = int32(len(lm.words))
		lm.words = append(lm.words, w)
		lm.uni = append(lm.uni, e)
		return nil
	}
	var ids [MaxLMOrder]int32
	for i, w := range f[1 : n+1] {
		id, ok := lm.ids[w]
		if !ok {
			return p.errorf("word %q of a %d-gram is not a unigram", clip(w), n)
		}
		ids[i] = id
	}
	if n == 2 {
		k := key2(ids[0], ids[1])
		if _, dup := lm.bi[k]; dup {
			return p.errorf("2-gram %q listed twice", clip(strings.Join(f[1:3], " ")))
		}
		lm.bi[k] = e
		return nil
	}
	k := key3(ids[0], ids[1], ids[2])
	if _, dup := lm.tri[k]; dup {
		return p.errorf("3-gram %q listed twice", clip(strings.Join(f[1:4], " ")))
	}
	lm.tri[k] = e.prob
	return nil
}

func (p *arpaParser) number(s, what string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, p.errorf("%s %q is not a finite number", what, clip(s))
	}
	return v, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) <= 60 {
		return s
	}
	return strings.ToValidUTF8(s[:60], "") + "…"
}

func (lm *LM) id(w string) int32 {
	if id, ok := lm.ids[w]; ok {
		return id
	}
	return noWord
}

// Order is the highest n-gram order.
func (lm *LM) Order() int { return lm.order }

// Len is the number of words (unigrams), <s> and </s> included.
func (lm *LM) Len() int { return len(lm.words) }

// Contains reports whether w is a unigram of the model.
func (lm *LM) Contains(w string) bool {
	_, ok := lm.ids[w]
	return ok
}

// start is the state at the start of a sentence: history "<s>".
func (lm *LM) start() lmState {
	s := lmState{h: [2]int32{noWord, noWord}}
	if lm.bos != noWord {
		s.h[1] = lm.bos
	}
	return s
}

// wordID maps a word to its id: <unk> for an unknown word when the model
// has it, else oovWord.
func (lm *LM) wordID(w string) int32 {
	if id, ok := lm.ids[w]; ok {
		return id
	}
	if lm.unk != noWord {
		return lm.unk
	}
	return oovWord
}

// score returns ln P(w | s) and the state after w. ok is false when w is
// oovWord (the model cannot score it); the state then still moves on.
func (lm *LM) score(s lmState, w int32) (lp float64, next lmState, ok bool) {
	next = lmState{h: [2]int32{s.h[1], w}}
	if lm.order < 3 {
		next.h[0] = noWord
	}
	if lm.order < 2 {
		next.h[1] = noWord
	}
	if w < 0 {
		return 0, next, false
	}
	a, b := s.h[0], s.h[1]
	var bow float64
	if lm.order >= 3 && a >= 0 && b >= 0 {
		if p, hit := lm.tri[key3(a, b, w)]; hit {
			return float64(p), next, true
		}
		if e, hit := lm.bi[key2(a, b)]; hit {
			bow += float64(e.bow)
		}
	}
	if lm.order >= 2 && b >= 0 {
		if e, hit := lm.bi[key2(b, w)]; hit {
			return bow + float64(e.prob), next, true
		}
		bow += float64(lm.uni[b].bow)
	}
	return bow + float64(lm.uni[w].prob), next, true
}

// LogProb returns the natural-log probability of word after the words of
// history (oldest first; "<s>" is not added), with back-off. ok is false
// when the model knows neither word nor <unk>. Words of history the model
// does not know count as <unk>, or as a context without n-grams.
func (lm *LM) LogProb(history []string, word string) (lp float64, ok bool) {
	s := lmState{h: [2]int32{noWord, noWord}}
	for _, h := range history {
		_, s, _ = lm.score(s, lm.wordID(h))
	}
	lp, _, ok = lm.score(s, lm.wordID(word))
	return lp, ok
}
