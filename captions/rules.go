package captions

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/subtitled/subtitled/decoder"
)

// FilterMode says what the word filter does with a listed word.
type FilterMode int

const (
	// FilterOff leaves every word alone.
	FilterOff FilterMode = iota
	// FilterMask replaces the word (not its punctuation) with "***".
	FilterMask
	// FilterRemove drops the word.
	FilterRemove
)

// Mask is what FilterMask shows instead of a filtered word.
const Mask = "***"

// Replacement is a custom, case-insensitive, whole-word (or whole-phrase)
// replacement: From "new york" matches "New York," and becomes To "New York"
// with the comma kept. An empty To deletes the phrase.
type Replacement struct {
	From, To string
}

// RulesConfig configures the verbatim → subtitle rules. Each rule has its
// own switch; the word lists come from Language and are extended by the
// per-channel lists here.
type RulesConfig struct {
	// Language selects the built-in lists ("en", "de", "fr", "es"; ISO 639-1
	// or 639-2, optionally with a region). Other languages have empty lists.
	Language string

	// RemoveFillers drops hesitations ("uh", "um", "erm"…). Filler phrases
	// ("you know") are removed only when punctuation sets them off, so that
	// "do you know" stays.
	RemoveFillers bool
	// Fillers adds channel-specific fillers; an entry with spaces is a phrase.
	Fillers []string

	// CollapseRepetitions turns immediate repetitions of one to three words
	// ("the the", "I I", "in the in the") into one, except for words that
	// are often doubled on purpose ("that that", "very very"), numbers, and
	// repetitions across a sentence end.
	CollapseRepetitions bool

	// RestoreCasing applies sentence casing when the model's output has no
	// case (all upper or all lower so far), and ends a final result with a
	// full stop when the model has produced no punctuation so far. Proper
	// nouns cannot be recovered; list them in Replacements.
	RestoreCasing bool

	// Filter masks or removes the words of the language's built-in list
	// (unless NoBuiltinFilter) and of FilterWords.
	Filter          FilterMode
	FilterWords     []string
	NoBuiltinFilter bool

	// Replacements apply last, longest From first, left to right.
	Replacements []Replacement
}

// DefaultRulesConfig turns on fillers, repetitions and casing for the
// language; the filter is off and there are no replacements.
func DefaultRulesConfig(lang string) RulesConfig {
	return RulesConfig{
		Language:            lang,
		RemoveFillers:       true,
		CollapseRepetitions: true,
		RestoreCasing:       true,
	}
}

// ErrInvalidRules is wrapped by NewRules errors.
var ErrInvalidRules = errors.New("captions: invalid rules config")

type replacement struct {
	from []string // keys
	to   []string // words
}

// Rules maps verbatim results to subtitle results. It keeps a little state
// per stream (whether the model cases and punctuates, and whether the last
// final ended a sentence), so use one Rules per channel and track. It is not
// safe for concurrent use.
type Rules struct {
	cfg           RulesConfig
	lw            *langWords
	fillers       map[string]bool
	fillerPhrases [][]string
	filter        map[string]bool
	reps          []replacement

	sawLower, sawUpper, sawPunct bool
	sentenceStart                bool
}

// NewRules checks the config and builds the pipeline.
func NewRules(cfg RulesConfig) (*Rules, error) {
	r := &Rules{cfg: cfg, lw: langFor(cfg.Language), sentenceStart: true}
	if cfg.Filter < FilterOff || cfg.Filter > FilterRemove {
		return nil, fmt.Errorf("%w: Filter: unknown mode %d", ErrInvalidRules, int(cfg.Filter))
	}
	r.fillers = make(map[string]bool, len(r.lw.fillers)+len(cfg.Fillers))
	for w := range r.lw.fillers {
		r.fillers[w] = true
	}
	r.fillerPhrases = append(r.fillerPhrases, r.lw.fillerPhrases...)
	for i, f := range cfg.Fillers {
		ks := keys(f)
		switch len(ks) {
		case 0:
			return nil, fmt.Errorf("%w: Fillers[%d]: no word in %q", ErrInvalidRules, i, f)
		case 1:
			r.fillers[ks[0]] = true
		default:
			r.fillerPhrases = append(r.fillerPhrases, ks)
		}
	}
	r.filter = map[string]bool{}
	if !cfg.NoBuiltinFilter {
		for w := range r.lw.profanity {
			r.filter[w] = true
		}
	}
	for i, f := range cfg.FilterWords {
		ks := keys(f)
		if len(ks) != 1 {
			return nil, fmt.Errorf("%w: FilterWords[%d]: %q is not one word", ErrInvalidRules, i, f)
		}
		r.filter[ks[0]] = true
	}
	for i, rep := range cfg.Replacements {
		from := keys(rep.From)
		if len(from) == 0 {
			return nil, fmt.Errorf("%w: Replacements[%d].From: no word in %q", ErrInvalidRules, i, rep.From)
		}
		r.reps = append(r.reps, replacement{from: from, to: strings.Fields(cleanText(rep.To))})
	}
	sort.SliceStable(r.reps, func(i, j int) bool { return len(r.reps[i].from) > len(r.reps[j].from) })
	return r, nil
}

// keys splits a phrase into word keys, dropping words that are only
// punctuation.
func keys(phrase string) []string {
	var out []string
	for _, f := range strings.Fields(phrase) {
		if k := key(f); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// Apply maps one verbatim result to the subtitle track. Word timings are
// kept (a merged word spans the words it replaces); Final, Continues and
// Segment are copied. Final punctuation is restored only at an endpoint (a
// final that does not continue). The input is not modified.
func (r *Rules) Apply(res decoder.Result) decoder.Result {
	ws := cleanWords(res.Words)
	r.observe(ws)
	if r.cfg.RemoveFillers {
		ws = removeFillers(ws, r.fillers, r.fillerPhrases, r.sentenceStart, r.lw)
	}
	if r.cfg.CollapseRepetitions {
		ws = collapseRepetitions(ws, r.lw)
	}
	if r.cfg.RestoreCasing {
		ws = restoreCasing(ws, caseInfo{
			lowerAll:      !r.sawLower,
			sentenceCase:  !r.sawLower || !r.sawUpper,
			addStop:       res.Final && !res.Continues && !r.sawPunct,
			sentenceStart: r.sentenceStart,
		}, r.lw)
	}
	if r.cfg.Filter != FilterOff {
		ws = filterWords(ws, r.filter, r.cfg.Filter, r.lw)
	}
	if len(r.reps) > 0 {
		ws = replaceWords(ws, r.reps, r.lw)
	}
	if res.Final && len(ws) > 0 {
		r.sentenceStart = endsSentence(ws[len(ws)-1].Text, r.lw)
	}
	return decoder.Result{Track: decoder.TrackSubtitle, Words: ws, Final: res.Final, Continues: res.Continues, Segment: res.Segment}
}

// observe records whether the model produces lower case, upper case and
// punctuation.
func (r *Rules) observe(ws []decoder.Word) {
	for _, w := range ws {
		for _, c := range w.Text {
			switch {
			case unicode.IsLower(c):
				r.sawLower = true
			case unicode.IsUpper(c):
				r.sawUpper = true
			case strings.ContainsRune(".,?!;:…", c):
				r.sawPunct = true
			}
		}
	}
}

// dropWords removes the marked words and keeps the text around them tidy:
// sentence punctuation of a dropped word moves to the previous kept word,
// a dropped sentence-initial capital moves to the next kept word, opening
// punctuation moves forward and closing brackets or quotes move back.
func dropWords(ws []decoder.Word, drop []bool, lw *langWords) []decoder.Word {
	out := make([]decoder.Word, 0, len(ws))
	lead, capNext := "", false
	for i, w := range ws {
		if !drop[i] {
			if capNext {
				w.Text = capitalise(w.Text)
			}
			if lead != "" {
				w.Text = lead + w.Text
			}
			lead, capNext = "", false
			out = append(out, w)
			continue
		}
		l, _, t := splitPunct(w.Text)
		initial := len(out) == 0 || endsSentence(out[len(out)-1].Text, lw)
		if startsUpper(w.Text) && initial {
			capNext = true
		}
		closing := strings.TrimLeft(t, ".,;:!?…–—-")
		stop := strings.TrimRight(strings.TrimLeft(t, ",;:–—-"), closers)
		if strings.ContainsAny(stop, ".!?…") && len(out) > 0 {
			p := &out[len(out)-1]
			if !endsSentence(p.Text, lw) {
				pl, pc, pt := splitPunct(p.Text)
				pt = strings.TrimRight(pt, ",;:–—-")
				p.Text = pl + pc + pt + stop
			}
		}
		switch {
		case l != "" && closing != "":
			// "(um)": drop both sides.
		case l != "":
			lead += l
		case closing != "" && len(out) > 0:
			out[len(out)-1].Text += closing
		}
	}
	return out
}

// collapseRuns reduces runs of one letter to one ("ummm" → "um").
func collapseRuns(s string) string {
	var b strings.Builder
	var prev rune = -1
	for _, r := range s {
		if r != prev {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// removeFillers drops single-word fillers anywhere, and filler phrases when
// they are set off: preceded by a sentence start or clause punctuation, and
// followed by punctuation (or the end of the words after a comma).
func removeFillers(ws []decoder.Word, single map[string]bool, phrases [][]string, sentenceStart bool, lw *langWords) []decoder.Word {
	drop := make([]bool, len(ws))
	found := false
	for i, w := range ws {
		k := key(w.Text)
		if k != "" && (single[k] || single[collapseRuns(k)]) {
			drop[i], found = true, true
		}
	}
	for i := 0; i < len(ws); i++ {
		for _, p := range phrases {
			n := len(p)
			if i+n > len(ws) || !matchKeys(ws[i:i+n], p) {
				continue
			}
			before := (i == 0 && sentenceStart) ||
				(i > 0 && (endsClause(ws[i-1].Text) || endsSentence(ws[i-1].Text, lw)))
			last := ws[i+n-1].Text
			after := endsClause(last) || endsSentence(last, lw) ||
				(i+n == len(ws) && i > 0 && endsClause(ws[i-1].Text))
			if before && after {
				for j := i; j < i+n; j++ {
					drop[j] = true
				}
				found = true
				i += n - 1
				break
			}
		}
	}
	if !found {
		return ws
	}
	return dropWords(ws, drop, lw)
}

// matchKeys reports whether the words spell the keys, with no punctuation
// between them (only before the first and after the last).
func matchKeys(ws []decoder.Word, ks []string) bool {
	for j, k := range ks {
		l, c, t := splitPunct(ws[j].Text)
		if strings.ToLower(c) != k {
			return false
		}
		if (j > 0 && l != "") || (j < len(ks)-1 && t != "") {
			return false
		}
	}
	return true
}

func hasDigit(s string) bool {
	return strings.ContainsFunc(s, unicode.IsDigit)
}

// collapseRepetitions keeps one copy of an immediately repeated word or
// phrase of up to three words. The kept (second) copy takes the first
// copy's start time, sentence-initial capital and opening punctuation.
func collapseRepetitions(ws []decoder.Word, lw *langWords) []decoder.Word {
	out := append([]decoder.Word(nil), ws...)
	i := 0
	for i < len(out) {
		merged := false
		for n := 3; n >= 1; n-- {
			if i+2*n > len(out) || !repeated(out[i:i+n], out[i+n:i+2*n], lw) {
				continue
			}
			if n == 1 && lw.keepDoubles[key(out[i].Text)] {
				continue
			}
			first, kept := out[i], &out[i+n]
			kept.Start = first.Start
			fl, _, _ := splitPunct(first.Text)
			kl, _, _ := splitPunct(kept.Text)
			if startsUpper(first.Text) && !startsUpper(kept.Text) {
				kept.Text = capitalise(kept.Text)
			}
			if fl != "" && kl == "" {
				kept.Text = fl + kept.Text
			}
			out = append(out[:i], out[i+n:]...)
			merged = true
			break
		}
		if !merged {
			i++
		}
	}
	return out
}

// repeated reports whether b repeats a word for word (case and punctuation
// aside), with no sentence end inside a and no numbers.
func repeated(a, b []decoder.Word, lw *langWords) bool {
	for j := range a {
		ka, kb := key(a[j].Text), key(b[j].Text)
		if ka == "" || ka != kb || hasDigit(ka) {
			return false
		}
		if endsSentence(a[j].Text, lw) {
			return false
		}
		if j < len(a)-1 && (hasTrailingPunct(a[j].Text) || hasTrailingPunct(b[j].Text)) {
			return false
		}
	}
	return true
}

type caseInfo struct {
	lowerAll      bool // the model writes in capitals: lower-case everything first
	sentenceCase  bool // the model has no case: capitalise sentence starts
	addStop       bool // a final of a model without punctuation: end with "."
	sentenceStart bool // the words begin a sentence
}

// restoreCasing applies sentence casing and the final full stop.
func restoreCasing(ws []decoder.Word, ci caseInfo, lw *langWords) []decoder.Word {
	if !ci.sentenceCase && !ci.addStop {
		return ws
	}
	out := append([]decoder.Word(nil), ws...)
	if ci.sentenceCase {
		start := ci.sentenceStart
		for i := range out {
			t := out[i].Text
			if ci.lowerAll {
				t = strings.ToLower(t)
			}
			if start {
				t = capitalise(t)
			}
			if lw.capitalI {
				k := key(t)
				if k == "i" || strings.HasPrefix(k, "i'") || strings.HasPrefix(k, "i’") {
					t = capitalise(t)
				}
			}
			out[i].Text = t
			start = endsSentence(t, lw)
		}
	}
	if ci.addStop && len(out) > 0 {
		last := &out[len(out)-1]
		if !endsSentence(last.Text, lw) {
			l, c, t := splitPunct(last.Text)
			t = strings.TrimRight(t, ",;:–—-")
			cl := ""
			if i := strings.IndexAny(t, closers); i >= 0 {
				t, cl = t[:i], t[i:]
			}
			last.Text = l + c + t + "." + cl
		}
	}
	return out
}

// filterWords masks or removes listed words.
func filterWords(ws []decoder.Word, list map[string]bool, mode FilterMode, lw *langWords) []decoder.Word {
	drop := make([]bool, len(ws))
	out := append([]decoder.Word(nil), ws...)
	found := false
	for i, w := range out {
		if !list[key(w.Text)] {
			continue
		}
		if mode == FilterMask {
			l, _, t := splitPunct(w.Text)
			out[i].Text = l + Mask + t
			continue
		}
		drop[i], found = true, true
	}
	if !found {
		return out
	}
	return dropWords(out, drop, lw)
}

// replaceWords applies the replacements left to right.
func replaceWords(ws []decoder.Word, reps []replacement, lw *langWords) []decoder.Word {
	out := make([]decoder.Word, 0, len(ws))
	var drop []bool
	deleted := false
	for i := 0; i < len(ws); {
		var rep *replacement
		for k := range reps {
			n := len(reps[k].from)
			if i+n <= len(ws) && matchKeys(ws[i:i+n], reps[k].from) {
				rep = &reps[k]
				break
			}
		}
		if rep == nil {
			out = append(out, ws[i])
			drop = append(drop, false)
			i++
			continue
		}
		m := len(rep.from)
		src := ws[i : i+m]
		i += m
		if len(rep.to) == 0 {
			out = append(out, src...)
			for range src {
				drop = append(drop, true)
			}
			deleted = true
			continue
		}
		lead, _, _ := splitPunct(src[0].Text)
		_, _, trail := splitPunct(src[m-1].Text)
		conf := src[0].Conf
		for _, s := range src[1:] {
			conf = min(conf, s.Conf)
		}
		span0, span1 := src[0].Start, src[m-1].End
		total := 0
		for _, t := range rep.to {
			total += runeLen(t)
		}
		acc := 0
		for j, t := range rep.to {
			w := decoder.Word{Text: t, Conf: conf}
			if len(rep.to) == m {
				w.Start, w.End = src[j].Start, src[j].End
			} else {
				w.Start = span0 + (span1-span0)*int64(acc)/int64(total)
				acc += runeLen(t)
				w.End = span0 + (span1-span0)*int64(acc)/int64(total)
			}
			if j == 0 {
				r, _ := utf8.DecodeRuneInString(t)
				if unicode.IsLower(r) && startsUpper(src[0].Text) {
					w.Text = capitalise(w.Text)
				}
				w.Text = lead + w.Text
			}
			if j == len(rep.to)-1 {
				w.Text += trail
			}
			out = append(out, w)
			drop = append(drop, false)
		}
	}
	if deleted {
		return dropWords(out, drop, lw)
	}
	return out
}
