// Package ctc holds the token table of a model (tokens.txt), word assembly
// from tokens, and streaming CTC search with word timestamps: greedy, and
// prefix beam search constrained by a lexicon and scored by a word n-gram
// language model (ARPA).
package ctc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WordStart is the SentencePiece word-start marker (U+2581).
const WordStart = "\u2581"

// ErrTokens marks a malformed tokens.txt.
var ErrTokens = errors.New("invalid tokens.txt")

// maxTokenLine bounds one line of tokens.txt.
const maxTokenLine = 64 << 10

// pieceKind says how a token contributes to the text.
type pieceKind uint8

const (
	kindText  pieceKind = iota // plain text, possibly starting a word
	kindBreak                  // a bare "▁" or a space: ends the current word
	kindSkip                   // <unk> and other control symbols: no text
	kindByte                   // <0xNN>: one raw byte of UTF-8
)

// skipSymbols are control symbols that never produce text.
var skipSymbols = map[string]bool{
	"<unk>": true, "<blk>": true, "<blank>": true, "<sos/eos>": true,
	"<s>": true, "</s>": true, "<pad>": true, "<sos>": true, "<eos>": true,
}

type piece struct {
	sym       string // the symbol as written in tokens.txt
	text      string // text without the leading "▁"
	wordStart bool
	kind      pieceKind
	b         byte // the byte of a kindByte token
}

// Tokens is the symbol table of a model: id → symbol, and how each symbol
// turns into text.
type Tokens struct {
	pieces []piece
	byName map[string]int
}

// LoadTokens reads a tokens.txt file.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTokens parses tokens.txt: one "<symbol> <id>" per line, the id being
// the last whitespace-separated field (trailing blanks are ignored). A line holding only an id means the
// symbol is a space. Ids must cover 0..V-1, each once. Empty lines are
// ignored.
func ParseTokens(r io.Reader) (*Tokens, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxTokenLine)
	syms := map[int]string{}
	maxID := -1
	line := 0
	for sc.Scan() {
		line++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(raw) == "" {
			continue
		}
		if !utf8.ValidString(raw) {
			return nil, fmt.Errorf("%w: line %d: not UTF-8", ErrTokens, line)
		}
		sym, idText := " ", strings.TrimSpace(raw)
		if i := strings.LastIndexAny(raw, " \t"); i >= 0 {
			if s := raw[:i]; s != "" {
				sym = s
			}
			idText = raw[i+1:]
		}
		id, err := strconv.Atoi(idText)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("%w: line %d: id %q is not a non-negative integer", ErrTokens, line, idText)
		}
		if prev, dup := syms[id]; dup {
			return nil, fmt.Errorf("%w: line %d: id %d given twice (%q and %q)", ErrTokens, line, id, prev, sym)
		}
		if id > 1<<24 {
			return nil, fmt.Errorf("%w: line %d: id %d is too large", ErrTokens, line, id)
		}
		syms[id] = sym
		maxID = max(maxID, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokens, err)
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("%w: no tokens", ErrTokens)
	}
	if maxID+1 != len(syms) {
		// n distinct ids below maxID+1 leave a hole somewhere in 0..n.
		for id := 0; id <= len(syms); id++ {
			if _, ok := syms[id]; !ok {
				return nil, fmt.Errorf("%w: ids must cover 0..%d but %d is missing", ErrTokens, maxID, id)
			}
		}
	}
	t := &Tokens{pieces: make([]piece, len(syms)), byName: make(map[string]int, len(syms))}
	for id := range t.pieces {
		sym := syms[id]
		t.pieces[id] = classify(sym)
		if _, ok := t.byName[sym]; !ok {
			t.byName[sym] = id
		}
	}
	return t, nil
}

// classify works out how a symbol becomes text.
func classify(sym string) piece {
	p := piece{sym: sym, text: sym}
	switch {
	case sym == WordStart || strings.TrimSpace(sym) == "":
		p.kind = kindBreak
	case skipSymbols[sym]:
		p.kind = kindSkip
	case len(sym) == 6 && strings.HasPrefix(sym, "<0x") && sym[5] == '>':
		if v, err := strconv.ParseUint(sym[3:5], 16, 8); err == nil {
			p.kind, p.b = kindByte, byte(v)
		}
	case strings.HasPrefix(sym, WordStart):
		p.wordStart, p.text = true, sym[len(WordStart):]
	case strings.HasPrefix(sym, " "):
		p.wordStart, p.text = true, strings.TrimLeft(sym, " ")
	}
	return p
}

// Len is the vocabulary size V.
func (t *Tokens) Len() int { return len(t.pieces) }

// Symbol returns the symbol of id, or "" when id is out of range.
func (t *Tokens) Symbol(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id].sym
}

// Lookup returns the id of a symbol (the first one when it is listed twice).
func (t *Tokens) Lookup(sym string) (int, bool) {
	id, ok := t.byName[sym]
	return id, ok
}

// WriteTo writes the table in tokens.txt format.
func (t *Tokens) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	for id, p := range t.pieces {
		if p.sym == " " {
			fmt.Fprintf(&b, "%d\n", id)
			continue
		}
		fmt.Fprintf(&b, "%s %d\n", p.sym, id)
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// Text assembles the text of an id sequence (no blanks expected; ids out of
// range are ignored): words split at "▁", <unk> skipped, byte tokens
// reassembled, words joined by single spaces.
func (t *Tokens) Text(ids []int) string {
	var a assembler
	for i, id := range ids {
		if id >= 0 && id < len(t.pieces) {
			a.add(&t.pieces[id], int64(i), 0)
		}
	}
	a.flush()
	words := make([]string, len(a.words))
	for i, w := range a.words {
		words[i] = w.text
	}
	return strings.Join(words, " ")
}

// assembled is one word under construction or done, in output frames.
type assembled struct {
	text        string
	first, last int64 // output frames of the first token and of the end of the last token's run
	confSum     float64
	confN       int
}

// assembler turns emitted tokens into words.
type assembler struct {
	words []assembled
	open  bool
	cur   assembled
	buf   []byte
}

// add appends an emitted token at output frame frame and reports whether it
// became part of the open word (so that a repeat of it extends that word).
func (a *assembler) add(p *piece, frame int64, prob float32) bool {
	switch p.kind {
	case kindSkip:
		return false
	case kindBreak:
		a.flush()
		return false
	case kindByte:
		a.begin(frame)
		a.buf = append(a.buf, p.b)
	case kindText:
		if p.wordStart {
			a.flush()
		}
		if p.text == "" {
			return false
		}
		a.begin(frame)
		a.buf = append(a.buf, p.text...)
	}
	a.cur.last = frame
	a.cur.confSum += float64(prob)
	a.cur.confN++
	return true
}

// startsAlnum reports whether a text piece begins with a letter or digit.
func (p *piece) startsAlnum() bool {
	if p.kind != kindText {
		return false
	}
	r, _ := utf8.DecodeRuneInString(strings.TrimPrefix(p.text, "\u2581"))
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (a *assembler) begin(frame int64) {
	if !a.open {
		a.open = true
		a.cur = assembled{first: frame, last: frame}
		a.buf = a.buf[:0]
	}
}

// extend moves the end of the open word when its last token repeats.
func (a *assembler) extend(frame int64) {
	if a.open {
		a.cur.last = frame
	}
}

// current returns the open word with its text so far.
func (a *assembler) current() (assembled, bool) {
	if !a.open {
		return assembled{}, false
	}
	w := a.cur
	w.text = text(a.buf)
	return w, w.text != ""
}

func (a *assembler) flush() {
	if w, ok := a.current(); ok {
		a.words = append(a.words, w)
	}
	a.open = false
	a.buf = a.buf[:0]
}

// text turns assembled bytes into a word, replacing invalid UTF-8 (from
// unpaired byte tokens) with U+FFFD.
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
