package captions

import (
	"errors"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder"
)

// mkWords makes words from a text, one every 0.1 s, each 0.08 s long.
func mkWords(text string) []decoder.Word {
	var out []decoder.Word
	for i, f := range strings.Fields(text) {
		s := int64(i) * 9000
		out = append(out, decoder.Word{Text: f, Start: s, End: s + 7200, Conf: 0.9})
	}
	return out
}

func joinWords(ws []decoder.Word) string {
	return decoder.Result{Words: ws}.Text()
}

func TestRemoveFillers(t *testing.T) {
	tests := []struct {
		lang, in, want string
		sentenceStart  bool
	}{
		{"en", "so uh I think um we should go", "so I think we should go", false},
		{"en", "Um, the plan is fine.", "The plan is fine.", true},
		{"en", "we went there, erm.", "we went there.", false},
		{"en", "I was, um, going home", "I was, going home", false},
		{"en", "ummm hmmm uhhh okay", "okay", false},
		{"en", "(um) right", "right", false},
		{"en", "It was, you know, quite big.", "It was, quite big.", false},
		{"en", "You know, I like it.", "I like it.", true},
		{"en", "do you know the way", "do you know the way", true},
		{"en", "you know the way", "you know the way", true},
		{"en", "it was big, you know", "it was big,", false},
		{"en", "the err bit", "the bit", false},
		{"en", "Mm, mmm nice", "Mmm nice", true},         // "mmm" is not listed: conservative
		{"de", "er sagt äh nein", "er sagt nein", false}, // German "er" is a pronoun
		{"fr", "euh je pense, tu sais, que oui", "je pense, que oui", false},
		{"es", "eh bueno", "bueno", false},
		{"xx", "uh hello", "uh hello", false},
	}
	for _, tt := range tests {
		lw := langFor(tt.lang)
		got := joinWords(removeFillers(mkWords(tt.in), lw.fillers, lw.fillerPhrases, tt.sentenceStart, lw))
		if got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.lang, tt.in, got, tt.want)
		}
	}
}

func TestCollapseRepetitions(t *testing.T) {
	tests := []struct{ lang, in, want string }{
		{"en", "the the house", "the house"},
		{"en", "I I think so", "I think so"},
		{"en", "I, I think so", "I think so"},
		{"en", "The the house", "The house"},
		{"en", "in the in the morning", "in the morning"},
		{"en", "I think I think it works", "I think it works"},
		{"en", "the the the end", "the end"},
		{"en", "I know that that is true", "I know that that is true"},
		{"en", "it is very very good", "it is very very good"},
		{"en", "call four four two", "call four four two"},
		{"en", "room 12 12", "room 12 12"},
		{"en", "we saw it. It was", "we saw it. It was"},
		{"en", "bye bye", "bye bye"},
		{"de", "die die Regierung", "die die Regierung"},
		{"de", "ich ich weiß", "ich weiß"},
	}
	for _, tt := range tests {
		got := joinWords(collapseRepetitions(mkWords(tt.in), langFor(tt.lang)))
		if got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.lang, tt.in, got, tt.want)
		}
	}
	// Timing: the kept copy starts where the first one did.
	ws := collapseRepetitions(mkWords("go the the end"), langEN)
	if len(ws) != 3 || ws[1].Start != 9000 || ws[1].End != 2*9000+7200 {
		t.Errorf("timing of merged word: %+v", ws)
	}
}

func TestRestoreCasing(t *testing.T) {
	tests := []struct {
		name, lang, in, want string
		ci                   caseInfo
	}{
		{"upper final", "en", "HELLO I AM HERE", "Hello I am here.", caseInfo{lowerAll: true, sentenceCase: true, addStop: true, sentenceStart: true}},
		{"upper partial", "en", "HELLO I'M HERE", "Hello I'm here", caseInfo{lowerAll: true, sentenceCase: true, sentenceStart: true}},
		{"lower mid sentence", "en", "and then i left", "and then I left.", caseInfo{sentenceCase: true, addStop: true}},
		{"punctuated caseless", "en", "yes. it works? sure", "Yes. It works? Sure", caseInfo{sentenceCase: true, sentenceStart: true}},
		{"cased unpunctuated", "en", "Then we went home", "Then we went home.", caseInfo{addStop: true}},
		{"already stopped", "en", "We went home!", "We went home!", caseInfo{addStop: true}},
		{"quote", "en", `he said "yes"`, `He said "yes."`, caseInfo{sentenceCase: true, addStop: true, sentenceStart: true}},
		{"trailing comma", "en", "we went,", "We went.", caseInfo{sentenceCase: true, addStop: true, sentenceStart: true}},
		{"german no I rule", "de", "i bin da", "I bin da.", caseInfo{sentenceCase: true, addStop: true, sentenceStart: true}},
		{"german mid", "de", "ÜBER DIE BRÜCKE", "über die brücke", caseInfo{lowerAll: true, sentenceCase: true}},
		{"off", "en", "hello there", "hello there", caseInfo{}},
	}
	for _, tt := range tests {
		got := joinWords(restoreCasing(mkWords(tt.in), tt.ci, langFor(tt.lang)))
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestFilterWords(t *testing.T) {
	list := map[string]bool{"darn": true, "shit": true}
	tests := []struct {
		mode    FilterMode
		in, out string
	}{
		{FilterMask, "oh darn it", "oh *** it"},
		{FilterMask, "Shit! That hurt", "***! That hurt"},
		{FilterRemove, "oh darn it", "oh it"},
		{FilterRemove, "Shit! That hurt", "That hurt"},
		{FilterRemove, "it broke, darn.", "it broke."},
		{FilterMask, "darning socks", "darning socks"},
	}
	for _, tt := range tests {
		got := joinWords(filterWords(mkWords(tt.in), list, tt.mode, langEN))
		if got != tt.out {
			t.Errorf("%v %q: got %q, want %q", tt.mode, tt.in, got, tt.out)
		}
	}
}

func TestReplaceWords(t *testing.T) {
	rules, err := NewRules(RulesConfig{Language: "en", Replacements: []Replacement{
		{From: "new york", To: "New York"},
		{From: "colour", To: "color"},
		{From: "gonna", To: "going to"},
		{From: "sub titled", To: "subtitled"},
		{From: "like", To: ""},
		{From: "new", To: "NEW"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, out string }{
		{"I love new york, really", "I love New York, really"},
		{"(NEW YORK) is big", "(New York) is big"},
		{"a new, york thing", "a NEW, york thing"},
		{"Colour me surprised", "Color me surprised"},
		{"Gonna go", "Going to go"},
		{"we use sub titled.", "we use subtitled."},
		{"it was, like, fine", "it was, fine"},
		{"it was like.", "it was."},
		{"unlikely", "unlikely"},
	}
	for _, tt := range tests {
		got := joinWords(replaceWords(mkWords(tt.in), rules.reps, langEN))
		if got != tt.out {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.out)
		}
	}
	// Timing: one word split in two shares the span; two words merged into
	// one span both.
	ws := replaceWords(mkWords("gonna sub titled"), rules.reps, langEN)
	if len(ws) != 3 {
		t.Fatalf("got %v", ws)
	}
	if ws[0].Start != 0 || ws[1].End != 7200 || ws[0].End != ws[1].Start || ws[0].End <= 0 {
		t.Errorf("split timing: %+v", ws[:2])
	}
	if ws[2].Start != 9000 || ws[2].End != 2*9000+7200 {
		t.Errorf("merged timing: %+v", ws[2])
	}
}

func TestRulesPipeline(t *testing.T) {
	cfg := DefaultRulesConfig("en")
	cfg.Filter = FilterMask
	cfg.Replacements = []Replacement{{From: "bbc", To: "BBC"}}
	r, err := NewRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		in    string
		final bool
		want  string
	}{
		{"UM THE THE BBC SAID", false, "The BBC said"},
		{"UM THE THE BBC SAID SHIT TODAY", true, "The BBC said *** today."},
		{"AND I I AGREED", true, "And I agreed."},
		{"", true, ""},
		{"UH", true, ""},
		{"OK", true, "Ok."},
	}
	for i, s := range steps {
		in := decoder.Result{Track: decoder.TrackVerbatim, Words: mkWords(s.in), Final: s.final, Segment: uint64(i)}
		orig := joinWords(in.Words)
		out := r.Apply(in)
		if got := joinWords(out.Words); got != s.want {
			t.Errorf("step %d %q: got %q, want %q", i, s.in, got, s.want)
		}
		if out.Track != decoder.TrackSubtitle || out.Final != s.final || out.Segment != uint64(i) {
			t.Errorf("step %d: header %+v", i, out)
		}
		if joinWords(in.Words) != orig {
			t.Errorf("step %d: input modified", i)
		}
	}

	// A cased, punctuated model passes through untouched but for the rules.
	r2, _ := NewRules(DefaultRulesConfig("en"))
	for _, s := range []string{"Hello, this is fine", "and this too"} {
		out := r2.Apply(decoder.Result{Words: mkWords(s), Final: true})
		if got := joinWords(out.Words); got != s {
			t.Errorf("cased model: got %q, want %q", got, s)
		}
	}

	// Switches off: identity.
	r3, _ := NewRules(RulesConfig{Language: "en"})
	in := "UM THE THE SHIT"
	if got := joinWords(r3.Apply(decoder.Result{Words: mkWords(in), Final: true}).Words); got != in {
		t.Errorf("all off: got %q", got)
	}
}

func TestNewRulesErrors(t *testing.T) {
	for _, cfg := range []RulesConfig{
		{Filter: FilterMode(7)},
		{Fillers: []string{" "}},
		{FilterWords: []string{"two words"}},
		{Replacements: []Replacement{{From: "...", To: "x"}}},
	} {
		if _, err := NewRules(cfg); !errors.Is(err, ErrInvalidRules) {
			t.Errorf("%+v: err %v", cfg, err)
		}
	}
	r, err := NewRules(RulesConfig{Language: "en", RemoveFillers: true, Fillers: []string{"like", "sort of"}})
	if err != nil {
		t.Fatal(err)
	}
	got := joinWords(r.Apply(decoder.Result{Words: mkWords("it is, sort of, like big")}).Words)
	if got != "it is, big" {
		t.Errorf("extra fillers: %q", got)
	}
}
