package captions

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

// streamGen makes random word streams: ordinary and function words, names,
// words longer than a line, punctuation, non-Latin text, pauses, very long
// words in time, and slightly overlapping word times.
type streamGen struct {
	r    *rand.Rand
	t    int64
	long int // length of a "long" word
}

var propVocab = []string{"the", "a", "and", "I", "will", "not", "to", "in", "John", "Smith",
	"we", "have", "été", "Straße", "日本語", "über", "but", "because", "my"}

func (g *streamGen) text() string {
	r := g.r
	var s string
	switch x := r.IntN(100); {
	case x < 3:
		n := g.long + r.IntN(3*g.long)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		s = string(b)
	case x < 35:
		s = propVocab[r.IntN(len(propVocab))]
	default:
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		s = string(b)
		if r.IntN(7) == 0 {
			s = capitalise(s)
		}
	}
	if r.IntN(6) == 0 {
		s += []string{",", ".", "?", "!", ";", "…", `."`}[r.IntN(7)]
	}
	return s
}

func (g *streamGen) word() decoder.Word {
	r := g.r
	var gap int64
	switch x := r.IntN(100); {
	case x < 70:
		gap = r.Int64N(sec / 5)
	case x < 90:
		gap = sec/5 + r.Int64N(13*sec/10)
	case x < 98:
		gap = 3*sec/2 + r.Int64N(5*sec/2)
	default:
		gap = 5*sec + r.Int64N(5*sec)
	}
	dur := sec/20 + r.Int64N(3*sec/4)
	if r.IntN(50) == 0 {
		dur = 3*sec + r.Int64N(6*sec)
	}
	start := g.t + gap
	if r.IntN(100) == 0 {
		start = g.t - sec/10 // overlaps the previous word a little
	}
	w := decoder.Word{Text: g.text(), Start: start, End: start + dur, Conf: 1}
	g.t = w.End
	return w
}

type propCase struct {
	name string
	opts Options
}

func propCases() []propCase {
	var cs []propCase
	add := func(name string, f func(*Options)) {
		o := DefaultOptions()
		if f != nil {
			f(&o)
		}
		cs = append(cs, propCase{name, o})
	}
	add("default", nil)
	add("teletext-strict", func(o *Options) { *o = OptionsFor(PresetTeletextStrict) })
	add("cea608-3-lines", func(o *Options) { *o = OptionsFor(PresetCEA608); o.MaxLines = 3 })
	add("roll-up", func(o *Options) { o.Mode = RollUp })
	add("lead-in", func(o *Options) { o.LeadIn = MaxLeadIn; o.FirstID = 1000 })
	add("merge-no-cps", func(o *Options) { o.MergeSentences = true; o.MaxCPS = 0; o.Language = "de" })
	add("tight", func(o *Options) {
		o.MaxChars = 12
		o.MaxDuration = 2 * time.Second
		o.MinDuration = 1500 * time.Millisecond
		o.MinGap = 200 * time.Millisecond
		o.Hang = 0
		o.MaxHang = 0
	})
	return cs
}

// TestBuilderProperties drives random streams through the builder and
// checks the invariants every cue sequence must keep.
func TestBuilderProperties(t *testing.T) {
	seeds := 100
	if testing.Short() {
		seeds = 30
	}
	for _, pc := range propCases() {
		t.Run(pc.name, func(t *testing.T) {
			for seed := 1; seed <= seeds; seed++ {
				if err := runProperty(pc.opts, uint64(seed)); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			}
		})
	}
}

func runProperty(o Options, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	o.Clock = fakeClock()
	b, err := NewBuilder(o)
	if err != nil {
		return err
	}
	g := &streamGen{r: r, t: int64(r.IntN(1000)) * sec, long: o.MaxChars + 1}
	var finals []decoder.Word
	var cues []Cue
	emit := func(cs []Cue) { cues = append(cues, cs...) }
	checkPartial := func(p Partial) error {
		if err := checkLines(o, p.Lines, nil); err != nil {
			return fmt.Errorf("partial %q: %w", p.Lines, err)
		}
		return nil
	}
	nseg := 5 + r.IntN(25)
	var seg uint64
	for range nseg {
		n := r.IntN(30)
		words := make([]decoder.Word, 0, n)
		for range n {
			words = append(words, g.word())
		}
		// Half the utterances come as early commits: finals that continue,
		// then the final at the endpoint.
		pieces := [][]decoder.Word{words}
		if r.IntN(2) == 0 {
			pieces = splitWords(r, words)
		}
		for pi, piece := range pieces {
			// Partials: growing prefixes, sometimes with a revised last word.
			for k := 0; k < len(piece); k += 1 + r.IntN(4) {
				p := append([]decoder.Word(nil), piece[:k+1]...)
				if r.IntN(3) == 0 {
					p[k].Text = "rev" + p[k].Text
				}
				u, err := b.Push(decoder.Result{Track: o.Track, Words: p, Segment: seg})
				if err != nil {
					return err
				}
				emit(u.Cues)
				if err := checkPartial(u.Partial); err != nil {
					return err
				}
				if r.IntN(4) == 0 {
					// Media time progress, as the promise allows: no later word
					// starts before it.
					emit(b.Advance(p[k].End))
				}
			}
			u, err := b.Push(decoder.Result{Track: o.Track, Words: piece, Segment: seg, Final: true, Continues: pi < len(pieces)-1})
			if err != nil {
				return err
			}
			emit(u.Cues)
			if err := checkPartial(u.Partial); err != nil {
				return err
			}
			seg++
		}
		finals = append(finals, words...)
		switch r.IntN(5) {
		case 0:
			emit(b.Advance(g.t + r.Int64N(3*sec)))
		case 1:
			emit(b.Advance(r.Int64N(g.t + 1))) // stale or wrong: must do no harm
		}
	}
	emit(b.Flush().Cues)
	if b.Pending() {
		return fmt.Errorf("cue still pending after Flush")
	}
	return checkCues(o, cues, finals)
}

// checkLines checks a cue's lines against the limits. words, when given, are
// the words of the cue (a single long word may be hard-wrapped).
func checkLines(o Options, lines []string, words []string) error {
	if len(words) == 1 && runeLen(words[0]) > o.MaxChars {
		if strings.Join(lines, "") != words[0] {
			return fmt.Errorf("hard wrap %q of %q", lines, words[0])
		}
		for i, l := range lines {
			if n := runeLen(l); n > o.MaxChars || (i < len(lines)-1 && n != o.MaxChars) {
				return fmt.Errorf("hard-wrapped line %q is %d runes", l, n)
			}
		}
		return nil
	}
	if len(lines) > o.linesPerCue() {
		// A partial may show a single long word.
		if words == nil && len(lines) > 0 && !strings.Contains(strings.Join(lines, ""), " ") {
			return nil
		}
		return fmt.Errorf("%d lines > %d", len(lines), o.linesPerCue())
	}
	for _, l := range lines {
		if runeLen(l) > o.MaxChars || l == "" || l != strings.TrimSpace(l) {
			return fmt.Errorf("line %q (%d runes, max %d)", l, runeLen(l), o.MaxChars)
		}
	}
	return nil
}

func checkCues(o Options, cues []Cue, finals []decoder.Word) error {
	minDur, maxDur, gap, lead := Ticks(o.MinDuration), Ticks(o.MaxDuration), Ticks(o.MinGap), Ticks(o.LeadIn)
	wi := 0
	for i, c := range cues {
		if c.ID != o.FirstID+uint64(i) {
			return fmt.Errorf("cue %d: ID %d, want %d", i, c.ID, o.FirstID+uint64(i))
		}
		if c.Track != o.Track {
			return fmt.Errorf("cue %d: track %q", i, c.Track)
		}
		if len(c.Lines) == 0 {
			return fmt.Errorf("cue %d: no lines", i)
		}
		if d := c.End - c.Start; d < minDur || d > maxDur {
			return fmt.Errorf("cue %d: duration %d not in [%d, %d]", i, d, minDur, maxDur)
		}
		if i > 0 {
			p := cues[i-1]
			if c.Start < p.End+gap {
				return fmt.Errorf("cue %d starts %d, previous ends %d (gap %d)", i, c.Start, p.End, gap)
			}
			if c.Emitted.Before(p.Emitted) {
				return fmt.Errorf("cue %d emitted before the previous one", i)
			}
		}
		// Which words does the cue hold? A hard-wrapped long word, or the
		// words of its lines.
		var words []string
		if wi < len(finals) && runeLen(finals[wi].Text) > o.MaxChars {
			words = []string{strings.Join(c.Lines, "")}
		} else {
			words = strings.Fields(strings.Join(c.Lines, " "))
		}
		if wi+len(words) > len(finals) {
			return fmt.Errorf("cue %d %q: more words than were final", i, c.Lines)
		}
		for j, w := range words {
			if finals[wi+j].Text != w {
				return fmt.Errorf("cue %d word %d: %q, want final word %d %q", i, j, w, wi+j, finals[wi+j].Text)
			}
		}
		if first := finals[wi].Start; c.Start < first-lead {
			return fmt.Errorf("cue %d starts %d, more than the lead-in before its speech at %d", i, c.Start, first)
		}
		if err := checkLines(o, c.Lines, words); err != nil {
			return fmt.Errorf("cue %d: %w", i, err)
		}
		wi += len(words)
	}
	if wi != len(finals) {
		return fmt.Errorf("%d of %d final words in cues", wi, len(finals))
	}
	return nil
}

// splitWords cuts words into 1 to 5 consecutive pieces, some empty.
func splitWords(r *rand.Rand, words []decoder.Word) [][]decoder.Word {
	var out [][]decoder.Word
	for n := r.IntN(5); n > 0 && len(words) > 0; n-- {
		k := r.IntN(len(words) + 1)
		out = append(out, words[:k])
		words = words[k:]
	}
	return append(out, words)
}

// TestBuilderContinuesEqualsWhole: an utterance committed early in pieces
// (finals that continue, then the endpoint's final) gives the same cues as
// the whole utterance in one final, when no sentence ends inside it: the
// segmenter closes a cue only on seeing the word after it, so the pieces
// change when cues go out, not what they hold.
func TestBuilderContinuesEqualsWhole(t *testing.T) {
	for _, pc := range propCases() {
		t.Run(pc.name, func(t *testing.T) {
			for seed := range uint64(60) {
				r := rand.New(rand.NewPCG(seed, 0xc0))
				g := &streamGen{r: r, long: pc.opts.MaxChars + 1}
				var utts [][]decoder.Word
				for range 1 + r.IntN(6) {
					var ws []decoder.Word
					for range r.IntN(40) {
						w := g.word()
						w.Text = strings.TrimRight(w.Text, ".?!…\"")
						if w.Text == "" {
							w.Text = "x"
						}
						ws = append(ws, w)
					}
					utts = append(utts, ws)
				}
				run := func(split bool) []Cue {
					o := pc.opts
					o.Clock = fakeClock()
					b, err := NewBuilder(o)
					if err != nil {
						t.Fatal(err)
					}
					var cues []Cue
					var seg uint64
					pr := rand.New(rand.NewPCG(seed, 1))
					for _, ws := range utts {
						pieces := [][]decoder.Word{ws}
						if split {
							pieces = splitWords(pr, ws)
						}
						for i, p := range pieces {
							u, err := b.Push(decoder.Result{Track: o.Track, Words: p, Segment: seg, Final: true, Continues: i < len(pieces)-1})
							if err != nil {
								t.Fatal(err)
							}
							cues = append(cues, u.Cues...)
							seg++
						}
					}
					return append(cues, b.Flush().Cues...)
				}
				whole, split := run(false), run(true)
				if len(whole) != len(split) {
					t.Fatalf("seed %d: %d cues whole, %d in pieces\n%v\n%v", seed, len(whole), len(split), linesOf(whole), linesOf(split))
				}
				for i := range whole {
					w, s := whole[i], split[i]
					w.Emitted, s.Emitted = time.Time{}, time.Time{}
					if !cueEqual(w, s) || w.ID != s.ID {
						t.Fatalf("seed %d cue %d: whole %+v, in pieces %+v", seed, i, w, s)
					}
				}
			}
		})
	}
}
