package wer

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello, World!", "hello world"},
		{"  It\u2019s   the BBC's news.  ", "it's the bbc's news"},
		{"'quoted' words", "quoted words"},
		{"rock-and-roll", "rock and roll"},
		{"line one\nline two", "line one line two"},
		{"ten 10 Ten", "ten 10 ten"},
		{"...", ""},
		{"", ""},
		{"don't'", "don't"},
	}
	for _, tc := range tests {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"flaw", "lawn", 2},
		{"same", "same", 0},
	}
	for _, tc := range tests {
		if got := Distance([]rune(tc.a), []rune(tc.b)); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestWordAndCharErrors(t *testing.T) {
	tests := []struct {
		name, ref, hyp string
		words, chars   Counts
	}{
		{"exact after normalisation", "The cat sat.", "the CAT, sat", Counts{0, 3}, Counts{0, 11}},
		{"one substitution", "the cat sat", "the hat sat", Counts{1, 3}, Counts{1, 11}},
		{"deletion and insertion", "a b c d", "b c d e", Counts{2, 4}, Counts{4, 7}},
		{"empty hypothesis", "one two", "", Counts{2, 2}, Counts{7, 7}},
		{"empty reference", "", "noise", Counts{1, 0}, Counts{5, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WordErrors(tc.ref, tc.hyp); got != tc.words {
				t.Errorf("WordErrors = %+v, want %+v", got, tc.words)
			}
			if got := CharErrors(tc.ref, tc.hyp); got != tc.chars {
				t.Errorf("CharErrors = %+v, want %+v", got, tc.chars)
			}
		})
	}
}

func TestRate(t *testing.T) {
	tests := []struct {
		c    Counts
		want float64
	}{
		{Counts{1, 4}, 25},
		{Counts{0, 0}, 0},
		{Counts{3, 0}, 100},
		{Counts{5, 2}, 250},
	}
	for _, tc := range tests {
		if got := tc.c.Rate(); got != tc.want {
			t.Errorf("%+v.Rate() = %v, want %v", tc.c, got, tc.want)
		}
	}
	if got := (Counts{1, 2}).Add(Counts{3, 4}); got != (Counts{4, 6}) {
		t.Errorf("Add = %+v", got)
	}
}

func TestParseJSONLines(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"subtitled cues", `{"id":7,"track":"verbatim","lines":["Good evening.","From London"],"start":12.5,"end":14.08}` + "\n" + `{"id":8,"lines":[]}` + "\n" + `{"id":9,"lines":["bye"]}`, "Good evening. From London bye", nil},
		{"lines win over text", `{"lines":["a"],"text":"b"}`, "a", nil},
		{"text members", `{"start":0,"end":1.5,"text":"hello there"}` + "\n" + `{"text":"General Kenobi"}`, "hello there General Kenobi", nil},
		{"blank lines", "\n" + `{"text":"a"}` + "\n\n", "a", nil},
		{"words fallback", `{"words":[{"text":"one"},{"word":"two"}]}`, "one two", nil},
		{"text wins over words", `{"text":"x","words":[{"text":"y"}]}`, "x", nil},
		{"empty input", "", "", nil},
		{"malformed", `{"text":"a"}` + "\n" + `{"text":`, "", ErrBadJSON},
		{"not an object", `["a"]`, "", ErrBadJSON},
		{"lines not strings", `{"lines":[1]}`, "", ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseJSONLines(strings.NewReader(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzParseJSONLines(f *testing.F) {
	f.Add(`{"text":"hello"}`)
	f.Add(`{"words":[{"text":"a"}]}` + "\n\n" + `{"text":""}`)
	f.Add(`{"text":`)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseJSONLines(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrBadJSON) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if utf8.ValidString(in) && !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 output %q", s)
		}
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("Normalize not idempotent on %q", s)
		}
		if c := WordErrors(n, s); c.Edits != 0 {
			t.Fatalf("text scored against itself has %d edits", c.Edits)
		}
	})
}
