package ctc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// ErrLexicon marks a malformed lexicon or a word the tokens cannot spell.
var ErrLexicon = errors.New("invalid lexicon")

// maxLexiconLine bounds one line of a lexicon file.
const maxLexiconLine = 64 << 10

// rootNode is the trie node of "no word begun".
const rootNode = 0

// Lexicon is a word list compiled into a trie over the token ids of one
// token table: the spelling of every word is a path from the root, and the
// node at its end is marked with the word. Beam search with a lexicon only
// keeps hypotheses whose open word is a path of the trie and whose finished
// words end on a marked node. A Lexicon is read-only after it is built and
// safe for concurrent use.
type Lexicon struct {
	tokens *Tokens
	words  []string // word id → word
	ids    map[string]int32
	nodes  []lexNode
	edges  []lexEdge // children of node i: edges[nodes[i].first:][:nodes[i].n], by token id

	mu   sync.Mutex
	lmly map[*LM]*lexLM // per language model: lookahead scores and word ids
}

type lexNode struct {
	first, n int32 // children in edges
	word     int32 // the word spelled by the path to this node, or -1
	parent   int32
}

type lexEdge struct{ tok, child int32 }

// lexLM is what beam search needs to use a language model with a lexicon:
// the LM id of every lexicon word and, per node, the highest unigram
// log-probability of the words below it (the lookahead, 0 at the root).
type lexLM struct {
	lmID      []int32
	lookahead []float32
}

// LoadLexicon reads a lexicon file for the token table tokens; errors name
// the file and line.
func LoadLexicon(path string, tokens *Tokens) (*Lexicon, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := ParseLexicon(f, tokens)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return l, nil
}

// ParseLexicon reads a lexicon: one word per line, optionally followed by
// its spelling as whitespace-separated symbols of tokens.txt
// ("hello ▁he ll o"). A word without a spelling is spelled automatically
// (Spell). A word may be listed more than once with different spellings;
// repeated identical lines are ignored. Empty lines are skipped. Errors wrap
// ErrLexicon and start with "LINE: ".
func ParseLexicon(r io.Reader, tokens *Tokens) (*Lexicon, error) {
	if tokens == nil || tokens.Len() == 0 {
		return nil, fmt.Errorf("%w: empty token table", ErrLexicon)
	}
	b := newLexBuilder(tokens)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLexiconLine)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var ids []int
		if len(f) > 1 {
			ids = make([]int, len(f)-1)
			for i, sym := range f[1:] {
				id, ok := tokens.Lookup(sym)
				if !ok {
					return nil, fmt.Errorf("%d: %w: word %q: symbol %q is not in tokens.txt", line, ErrLexicon, clip(f[0]), clip(sym))
				}
				ids[i] = id
			}
		}
		if err := b.add(f[0], ids); err != nil {
			return nil, fmt.Errorf("%d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%d: %w: %w", line+1, ErrLexicon, err)
	}
	return b.finish()
}

// NewLexicon builds a lexicon from words, each spelled automatically (Spell).
// Errors wrap ErrLexicon.
func NewLexicon(words []string, tokens *Tokens) (*Lexicon, error) {
	if tokens == nil || tokens.Len() == 0 {
		return nil, fmt.Errorf("%w: empty token table", ErrLexicon)
	}
	b := newLexBuilder(tokens)
	for i, w := range words {
		if err := b.add(w, nil); err != nil {
			return nil, fmt.Errorf("word %d: %w", i+1, err)
		}
	}
	return b.finish()
}

// Len is the number of distinct words.
func (l *Lexicon) Len() int { return len(l.words) }

// Words returns the words in the order they were first listed.
func (l *Lexicon) Words() []string { return slices.Clone(l.words) }

// Contains reports whether w is a word of the lexicon.
func (l *Lexicon) Contains(w string) bool {
	_, ok := l.ids[w]
	return ok
}

// Tokens is the token table the lexicon spells with.
func (l *Lexicon) Tokens() *Tokens { return l.tokens }

// children returns the edges below node n.
func (l *Lexicon) children(n int32) []lexEdge {
	nd := &l.nodes[n]
	return l.edges[nd.first : nd.first+nd.n]
}

// child returns the node below n along token tok, or -1.
func (l *Lexicon) child(n int32, tok int32) int32 {
	es := l.children(n)
	i, ok := slices.BinarySearchFunc(es, tok, func(e lexEdge, t int32) int {
		return int(e.tok) - int(t)
	})
	if !ok {
		return -1
	}
	return es[i].child
}

// withLM returns the lookahead and word ids for lm, computed once per model.
func (l *Lexicon) withLM(lm *LM) *lexLM {
	l.mu.Lock()
	defer l.mu.Unlock()
	if x, ok := l.lmly[lm]; ok {
		return x
	}
	x := &lexLM{lmID: make([]int32, len(l.words)), lookahead: make([]float32, len(l.nodes))}
	for i, w := range l.words {
		x.lmID[i] = lm.wordID(w)
	}
	for i := range x.lookahead {
		x.lookahead[i] = float32(math.Inf(-1))
	}
	for n := range l.nodes {
		if w := l.nodes[n].word; w >= 0 {
			u := float32(0) // a word the LM cannot score gets no lookahead
			if id := x.lmID[w]; id >= 0 {
				u = lm.uni[id].prob
			}
			x.lookahead[n] = max(x.lookahead[n], u)
		}
	}
	// Children have higher indices than their parents.
	for n := len(l.nodes) - 1; n > rootNode; n-- {
		p := l.nodes[n].parent
		x.lookahead[p] = max(x.lookahead[p], x.lookahead[n])
	}
	x.lookahead[rootNode] = 0
	if l.lmly == nil {
		l.lmly = map[*LM]*lexLM{}
	}
	l.lmly[lm] = x
	return x
}

// lexBuilder collects spellings into a trie.
type lexBuilder struct {
	tok   *Tokens
	sp    *speller
	words []string
	ids   map[string]int32
	nodes []lexNode
	kids  []map[int32]int32
	spelt map[string]bool // word + "\x00" + spelling, to drop repeated lines
}

func newLexBuilder(t *Tokens) *lexBuilder {
	b := &lexBuilder{
		tok:   t,
		ids:   map[string]int32{},
		nodes: []lexNode{{word: -1, parent: -1}},
		kids:  []map[int32]int32{{}},
		spelt: map[string]bool{},
	}
	return b
}

// add adds one spelling of w; ids nil means the automatic spelling.
func (b *lexBuilder) add(w string, ids []int) error {
	if !utf8.ValidString(w) {
		return fmt.Errorf("%w: word %q is not UTF-8", ErrLexicon, clip(w))
	}
	if w == "" || strings.ContainsFunc(w, isSpace) {
		return fmt.Errorf("%w: word %q is empty or holds white space", ErrLexicon, clip(w))
	}
	if ids == nil {
		if b.sp == nil {
			b.sp = newSpeller(b.tok)
		}
		var ok bool
		if ids, ok = b.sp.spell(w); !ok {
			return fmt.Errorf("%w: word %q cannot be spelled with the tokens", ErrLexicon, clip(w))
		}
	} else if err := b.checkSpelling(w, ids); err != nil {
		return err
	}
	key := w + "\x00" + fmt.Sprint(ids)
	if b.spelt[key] {
		return nil
	}
	b.spelt[key] = true
	id, ok := b.ids[w]
	if !ok {
		id = int32(len(b.words))
		b.ids[w] = id
		b.words = append(b.words, w)
	}
	n := int32(rootNode)
	for _, t := range ids {
		c, ok := b.kids[n][int32(t)]
		if !ok {
			c = int32(len(b.nodes))
			b.nodes = append(b.nodes, lexNode{word: -1, parent: n})
			b.kids = append(b.kids, map[int32]int32{})
			b.kids[n][int32(t)] = c
		}
		n = c
	}
	// A spelling's text is its word, so no two words share a node.
	b.nodes[n].word = id
	return nil
}

// checkSpelling checks an explicit spelling: text or byte tokens whose text
// is the word, a word-start piece only first.
func (b *lexBuilder) checkSpelling(w string, ids []int) error {
	for i, id := range ids {
		p := &b.tok.pieces[id]
		switch {
		case p.kind != kindText && p.kind != kindByte:
			return fmt.Errorf("%w: word %q: symbol %q spells no text", ErrLexicon, clip(w), clip(p.sym))
		case p.wordStart && i > 0:
			return fmt.Errorf("%w: word %q: word-start symbol %q after the first position", ErrLexicon, clip(w), clip(p.sym))
		}
	}
	if got := b.tok.Text(ids); got != w {
		return fmt.Errorf("%w: word %q: the symbols spell %q", ErrLexicon, clip(w), clip(got))
	}
	return nil
}

func (b *lexBuilder) finish() (*Lexicon, error) {
	if len(b.words) == 0 {
		return nil, fmt.Errorf("%w: no words", ErrLexicon)
	}
	l := &Lexicon{tokens: b.tok, words: b.words, ids: b.ids, nodes: b.nodes}
	for n, kids := range b.kids {
		l.nodes[n].first = int32(len(l.edges))
		l.nodes[n].n = int32(len(kids))
		for t, c := range kids {
			l.edges = append(l.edges, lexEdge{tok: t, child: c})
		}
		slices.SortFunc(l.edges[l.nodes[n].first:], func(a, b lexEdge) int { return int(a.tok) - int(b.tok) })
	}
	return l, nil
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// Spell returns the automatic spelling of word with the tokens: the
// shortest sequence of token pieces whose text is the word, where only the
// first piece may be a word-start piece ("▁he") and a byte token (<0xNN>)
// spells one byte. Among spellings of equal length the one with the longest
// first piece wins (then the longest second piece, …); at equal length a
// word-start piece beats a plain one and a text piece beats a byte token. For a character model this
// is the word letter by letter; for a SentencePiece model it is close to,
// but not always, the model's own segmentation, so list other spellings in
// the lexicon file where it matters. ok is false when no spelling exists.
func (t *Tokens) Spell(word string) (ids []int, ok bool) {
	return newSpeller(t).spell(word)
}

// speller indexes token texts for Spell.
type speller struct {
	plain, start map[string]int // text → first token id
	bytes        [256]int       // byte → byte token id + 1
	maxLen       int
}

func newSpeller(t *Tokens) *speller {
	s := &speller{plain: map[string]int{}, start: map[string]int{}}
	for id, p := range t.pieces {
		switch p.kind {
		case kindText:
			if p.text == "" {
				continue
			}
			m := s.plain
			if p.wordStart {
				m = s.start
			}
			if _, dup := m[p.text]; !dup {
				m[p.text] = id
			}
			s.maxLen = max(s.maxLen, len(p.text))
		case kindByte:
			if s.bytes[p.b] == 0 {
				s.bytes[p.b] = id + 1
			}
		}
	}
	return s
}

func (s *speller) spell(w string) ([]int, bool) {
	n := len(w)
	if n == 0 {
		return nil, false
	}
	const inf = math.MaxInt32
	// cost[i]: fewest pieces spelling w[i:]; next[i], id[i]: the first piece.
	cost := make([]int, n+1)
	next := make([]int, n+1)
	id := make([]int, n+1)
	for i := n - 1; i >= 0; i-- {
		cost[i] = inf
		for j := min(n, i+s.maxLen); j > i; j-- {
			if cost[j] == inf || cost[j]+1 >= cost[i] {
				continue
			}
			if i == 0 {
				if t, ok := s.start[w[i:j]]; ok {
					cost[i], next[i], id[i] = cost[j]+1, j, t
					continue
				}
			}
			if t, ok := s.plain[w[i:j]]; ok {
				cost[i], next[i], id[i] = cost[j]+1, j, t
			}
		}
		if s.bytes[w[i]] != 0 && cost[i+1] != inf && cost[i+1]+1 < cost[i] {
			cost[i], next[i], id[i] = cost[i+1]+1, i+1, s.bytes[w[i]]-1
		}
	}
	if cost[0] == inf {
		return nil, false
	}
	var out []int
	for i := 0; i < n; i = next[i] {
		out = append(out, id[i])
	}
	return out, true
}
