package ctc

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

// FrameTicks is the length of one 10 ms feature frame in 90 kHz units.
const FrameTicks = 900

// ErrShape marks log-probs whose length is not a whole number of frames.
var ErrShape = errors.New("ctc: log-probs are not a whole number of frames")

// Greedy is streaming greedy CTC search for one stream: arg-max per output
// frame, repeats collapsed, blanks dropped. Output frame o stands for
// feature frame o·R, at media time anchor + o·R·900 (90 kHz). Not safe for
// concurrent use.
type Greedy struct {
	tok         *Tokens
	blank       int
	sub         int64
	anchor      int64
	frames      int64
	prev        int
	prevContrib bool
	trailing    int64 // consecutive blank output frames at the end
	pause       int64 // blank output frames that end a word (0: never)
	asm         assembler
}

// DefaultPauseBreak is the silence after which Greedy starts a new word even
// without a word-break token, when the next token begins with a letter or a
// digit (punctuation such as "." still attaches to the word before it).
// Character models trained on single sentences never learn to emit "▁"
// between two sentences; a pause this long does not happen inside a word.
const DefaultPauseBreak = 400 * time.Millisecond

// NewGreedy starts a search. subsampling is R (feature frames per output
// frame) and anchor the PTS of feature frame 0.
func NewGreedy(tokens *Tokens, blankID, subsampling int, anchor int64) (*Greedy, error) {
	if tokens == nil || tokens.Len() == 0 {
		return nil, errors.New("ctc: empty token table")
	}
	if blankID < 0 || blankID >= tokens.Len() {
		return nil, fmt.Errorf("ctc: blank id %d outside the vocabulary of %d", blankID, tokens.Len())
	}
	if subsampling < 1 {
		return nil, fmt.Errorf("ctc: subsampling factor %d < 1", subsampling)
	}
	g := &Greedy{tok: tokens, blank: blankID, sub: int64(subsampling)}
	g.SetPauseBreak(DefaultPauseBreak)
	g.Reset(anchor)
	return g, nil
}

// SetPauseBreak sets the silence after which the next token starts a new
// word (0: only word-break tokens end words).
func (g *Greedy) SetPauseBreak(d time.Duration) {
	g.pause = 0
	if d > 0 {
		frame := time.Duration(g.sub) * 10 * time.Millisecond
		g.pause = max(1, int64((d+frame-1)/frame))
	}
}

// Reset forgets all output and re-anchors frame 0 at anchor.
func (g *Greedy) Reset(anchor int64) {
	g.anchor, g.frames, g.prev, g.prevContrib, g.trailing = anchor, 0, g.blank, false, 0
	g.asm.words = g.asm.words[:0]
	g.asm.open = false
	g.asm.buf = g.asm.buf[:0]
}

// Accept consumes log-probs of consecutive output frames, laid out [frames][V].
func (g *Greedy) Accept(logProbs []float32) error {
	v := g.tok.Len()
	if len(logProbs)%v != 0 {
		return fmt.Errorf("%w: %d values, V=%d", ErrShape, len(logProbs), v)
	}
	for off := 0; off < len(logProbs); off += v {
		row := logProbs[off : off+v]
		best, bestLP := 0, row[0]
		for i, lp := range row[1:] {
			if lp > bestLP {
				best, bestLP = i+1, lp
			}
		}
		g.step(best, bestLP)
	}
	return nil
}

// step handles the arg-max of one output frame.
func (g *Greedy) step(id int, lp float32) {
	frame := g.frames
	g.frames++
	if id != g.blank && id != g.prev && g.pause > 0 && g.trailing >= g.pause && g.tok.pieces[id].startsAlnum() {
		g.asm.flush() // a pause ends the word (punctuation still attaches)
	}
	if id == g.blank {
		g.trailing++
	} else {
		g.trailing = 0
	}
	switch {
	case id == g.prev:
		if id != g.blank && g.prevContrib {
			g.asm.extend(frame)
		}
		return
	case id == g.blank:
		g.prev, g.prevContrib = id, false
		return
	}
	g.prev = id
	g.prevContrib = g.asm.add(&g.tok.pieces[id], frame, float32(math.Exp(float64(lp))))
}

// TrailingBlanks is the number of consecutive blank output frames at the
// end, the silence measure endpointing uses.
func (g *Greedy) TrailingBlanks() int64 { return g.trailing }

// InWord reports whether the last word may still grow: a word is open and
// no word break or pause-length silence has ended it. A cut now would split
// it.
func (g *Greedy) InWord() bool {
	if !g.asm.open {
		return false
	}
	return g.pause == 0 || g.trailing < g.pause
}

// Cut ends the current segment: it returns its words and starts a new one
// whose frame 0 is the next output frame, so media times stay continuous.
func (g *Greedy) Cut() []decoder.Word {
	words := g.Words()
	g.Reset(g.anchor + g.frames*g.sub*FrameTicks)
	return words
}

// SetCommitForce does nothing: greedy search never revises a finished word.
func (g *Greedy) SetCommitForce(int64) {}

// Commit returns the finished words (all but the one still growing) and
// takes them out of Words and Cut.
func (g *Greedy) Commit() []decoder.Word {
	if len(g.asm.words) == 0 {
		return nil
	}
	out := make([]decoder.Word, len(g.asm.words))
	for i, w := range g.asm.words {
		out[i] = g.word(w)
	}
	g.asm.words = g.asm.words[:0]
	return out
}

// Frames is the number of output frames consumed since the last Reset.
func (g *Greedy) Frames() int64 { return g.frames }

// Words returns the words so far, the last one possibly still growing.
func (g *Greedy) Words() []decoder.Word {
	out := make([]decoder.Word, 0, len(g.asm.words)+1)
	for _, w := range g.asm.words {
		out = append(out, g.word(w))
	}
	if w, ok := g.asm.current(); ok {
		out = append(out, g.word(w))
	}
	return out
}

// Text returns the words so far joined by single spaces.
func (g *Greedy) Text() string {
	ws := g.Words()
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

func (g *Greedy) word(w assembled) decoder.Word {
	conf := float32(0)
	if w.confN > 0 {
		conf = float32(w.confSum / float64(w.confN))
	}
	return decoder.Word{
		Text:  w.text,
		Start: g.anchor + w.first*g.sub*FrameTicks,
		End:   g.anchor + (w.last+1)*g.sub*FrameTicks,
		Conf:  conf,
	}
}
