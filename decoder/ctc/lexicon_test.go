package ctc

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSpell(t *testing.T) {
	chars := mustTokens(t, charTable())
	bpe := mustTokens(t, bpeTable)
	sub := mustTokens(t, "<blk> 0\n▁ab 1\nab 2\na 3\nb 4\n▁a 5\nc 6\nbc 7\nabc 8\n")
	tests := []struct {
		name string
		tok  *Tokens
		word string
		want []int // nil: no spelling
	}{
		{"letters", chars, "don't", []int{5, 16, 15, 28, 21}},
		{"no such letter", chars, "Don", nil},
		{"word-start piece", bpe, "AFTER", []int{3}},
		{"pieces", bpe, "NIGHTFALL", []int{7, 8, 9, 10}},
		{"byte tokens", bpe, "café", []int{15, 16, 17}},
		{"bytes only where no piece fits", bpe, "x€", []int{18, 12, 13, 14}},
		{"unspellable", bpe, "EARLYZ", nil},
		{"fewest pieces", sub, "abc", []int{8}},
		{"word-start beats plain at equal length", sub, "ab", []int{1}},
		{"longest first piece at equal count", sub, "abbc", []int{1, 7}},
		{"empty", sub, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.tok.Spell(tc.word)
			if ok != (tc.want != nil) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Spell(%q) = %v %v, want %v", tc.word, got, ok, tc.want)
			}
			if ok && tc.tok.Text(got) != tc.word {
				t.Fatalf("spelling %v reads %q", got, tc.tok.Text(got))
			}
		})
	}
}

func TestParseLexicon(t *testing.T) {
	bpe := mustTokens(t, bpeTable)
	l, err := ParseLexicon(strings.NewReader("AFTER\n\n  EARLY ▁E AR LY \nEARLY\nEARLY ▁E AR LY\nx\n"), bpe)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 3 || !reflect.DeepEqual(l.Words(), []string{"AFTER", "EARLY", "x"}) || !l.Contains("x") || l.Contains("EAR") {
		t.Fatalf("words %v", l.Words())
	}
	// EARLY has its explicit spelling and its automatic one (the same here),
	// x is a plain piece reachable from the root.
	for _, path := range [][]int{{3}, {4, 5, 6}, {18}} {
		n := int32(rootNode)
		for _, id := range path {
			if n = l.child(n, int32(id)); n < 0 {
				t.Fatalf("path %v is not in the trie", path)
			}
		}
		if l.nodes[n].word < 0 {
			t.Fatalf("path %v ends on no word", path)
		}
	}
	if l.child(rootNode, 5) >= 0 {
		t.Error("AR reachable from the root")
	}
}

func TestParseLexiconErrors(t *testing.T) {
	bpe := mustTokens(t, bpeTable)
	tests := []struct {
		name, text string
		substr     []string
	}{
		{"unknown symbol", "AFTER\nEARLY ▁E AR LYX\n", []string{"2: ", "symbol \"LYX\""}},
		{"spelling spells another text", "EARLY ▁E AR\n", []string{"1: ", `spell "EAR"`}},
		{"word-start piece inside", "EARLY AR ▁E LY\n", []string{"word-start symbol"}},
		{"break in spelling", "AFTER ▁AFTER ▁\n", []string{`symbol "▁" spells no text`}},
		{"control symbol in spelling", "AFTER <unk> ▁AFTER\n", []string{"spells no text"}},
		{"cannot spell", "AFTER\n\nQQ\n", []string{"3: ", `"QQ" cannot be spelled`}},
		{"not utf-8", "caf\xc3\n", []string{"not UTF-8"}},
		{"empty", "\n\n", []string{"no words"}},
		{"long line", strings.Repeat("a", maxLexiconLine+10), []string{"token too long"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLexicon(strings.NewReader(tc.text), bpe)
			if !errors.Is(err, ErrLexicon) {
				t.Fatalf("err %v does not wrap ErrLexicon", err)
			}
			for _, s := range tc.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err %q lacks %q", err, s)
				}
			}
		})
	}
	if _, err := NewLexicon([]string{"a b"}, bpe); !errors.Is(err, ErrLexicon) || !strings.Contains(err.Error(), "word 1") {
		t.Errorf("white space in a word: %v", err)
	}
	if _, err := ParseLexicon(strings.NewReader("a\n"), nil); !errors.Is(err, ErrLexicon) {
		t.Errorf("nil tokens: %v", err)
	}
}

func TestLoadLexiconNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "words.txt")
	if err := os.WriteFile(path, []byte("hello\nwörld\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadLexicon(path, mustTokens(t, charTable()))
	if !errors.Is(err, ErrLexicon) || !strings.HasPrefix(err.Error(), path+":2: ") {
		t.Fatalf("err %v, want %s:2: …", err, path)
	}
	if _, err := LoadLexicon(filepath.Join(t.TempDir(), "none"), mustTokens(t, charTable())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// Every path from the root to a word node spells that word, and every
// word is reachable.
func checkTrie(t *testing.T, l *Lexicon) {
	t.Helper()
	found := make([]bool, l.Len())
	var walk func(n int32, path []int)
	walk = func(n int32, path []int) {
		if w := l.nodes[n].word; w >= 0 {
			found[w] = true
			if got := l.tokens.Text(path); got != l.words[w] {
				t.Fatalf("path %v spells %q, marked %q", path, got, l.words[w])
			}
		}
		prev := int32(-1)
		for _, e := range l.children(n) {
			if e.tok <= prev || l.nodes[e.child].parent != n || e.child <= n {
				t.Fatalf("node %d: bad edge %+v", n, e)
			}
			prev = e.tok
			walk(e.child, append(path, int(e.tok)))
		}
	}
	walk(rootNode, nil)
	for w, ok := range found {
		if !ok {
			t.Fatalf("word %q unreachable", l.words[w])
		}
	}
}

func FuzzLexicon(f *testing.F) {
	f.Add("AFTER\nEARLY ▁E AR LY\ncafé\n")
	f.Add("NIGHTFALL ▁NIGHT F A LL\nx€\n\nx\n")
	f.Add("EARLY ▁E AR\n")
	bpe := mustTokens(f, bpeTable)
	f.Fuzz(func(t *testing.T, text string) {
		l, err := ParseLexicon(strings.NewReader(text), bpe)
		if err != nil {
			if !errors.Is(err, ErrLexicon) {
				t.Fatalf("error does not wrap ErrLexicon: %v", err)
			}
			return
		}
		if l.Len() == 0 {
			t.Fatal("empty lexicon accepted")
		}
		checkTrie(t, l)
	})
}
