package ctc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustTokens(t testing.TB, text string) *Tokens {
	t.Helper()
	tok, err := ParseTokens(strings.NewReader(text))
	if err != nil {
		t.Fatalf("ParseTokens: %v", err)
	}
	return tok
}

func TestParseTokens(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // symbols by id
		wantErr string
	}{
		{name: "icefall head", in: "<blk> 0\n<sos/eos> 1\n<unk> 2\n▁THE 3\nS 4\n", want: []string{"<blk>", "<sos/eos>", "<unk>", "▁THE", "S"}},
		{name: "crlf and trailing blanks", in: "<blk> 0\r\na 1 \r\nb\t2\r\n", want: []string{"<blk>", "a", "b"}},
		{name: "id only is a space", in: "<blk> 0\n1\na 2\n", want: []string{"<blk>", " ", "a"}},
		{name: "leading space then id is a space", in: "<blk> 0\n 1\n", want: []string{"<blk>", " "}},
		{name: "ids out of order", in: "b 1\n<blk> 0\n", want: []string{"<blk>", "b"}},
		{name: "empty lines ignored", in: "\n<blk> 0\n\n\na 1\n", want: []string{"<blk>", "a"}},
		{name: "symbol with inner space", in: "<blk> 0\na b 1\n", want: []string{"<blk>", "a b"}},
		{name: "empty", in: "", wantErr: "no tokens"},
		{name: "bad id", in: "<blk> zero\n", wantErr: `id "zero"`},
		{name: "negative id", in: "<blk> -1\n", wantErr: `id "-1"`},
		{name: "duplicate id", in: "<blk> 0\na 0\n", wantErr: "id 0 given twice"},
		{name: "gap", in: "<blk> 0\na 2\n", wantErr: "1 is missing"},
		{name: "not utf8", in: "<blk> 0\n\xff 1\n", wantErr: "not UTF-8"},
		{name: "huge id", in: "a 999999999\n", wantErr: "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseTokens(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrTokens) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrTokens containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.Len() != len(tc.want) {
				t.Fatalf("Len = %d, want %d", tok.Len(), len(tc.want))
			}
			for id, s := range tc.want {
				if got := tok.Symbol(id); got != s {
					t.Errorf("Symbol(%d) = %q, want %q", id, got, s)
				}
				if got, ok := tok.Lookup(s); !ok || got != id {
					t.Errorf("Lookup(%q) = %d,%v, want %d", s, got, ok, id)
				}
			}
			if tok.Symbol(-1) != "" || tok.Symbol(tok.Len()) != "" {
				t.Error("Symbol out of range is not empty")
			}
		})
	}
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(p, []byte("<blk> 0\na 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokens(p)
	if err != nil || tok.Len() != 2 {
		t.Fatalf("LoadTokens = %v, %v", tok, err)
	}
	if _, err := LoadTokens(filepath.Join(dir, "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(p, []byte("a b c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(p); !errors.Is(err, ErrTokens) || !strings.Contains(err.Error(), p) {
		t.Fatalf("bad file: %v", err)
	}
}

const bpeTable = `<blk> 0
<sos/eos> 1
<unk> 2
▁AFTER 3
▁E 4
AR 5
LY 6
▁NIGHT 7
F 8
A 9
LL 10
▁ 11
<0xE2> 12
<0x82> 13
<0xAC> 14
▁caf 15
<0xC3> 16
<0xA9> 17
x 18
19
`

func TestText(t *testing.T) {
	tok := mustTokens(t, bpeTable)
	tests := []struct {
		name string
		ids  []int
		want string
	}{
		{"golden icefall", []int{3, 4, 5, 6, 7, 8, 9, 10}, "AFTER EARLY NIGHTFALL"},
		{"unk skipped", []int{3, 2, 4, 5}, "AFTER EAR"},
		{"control symbols skipped", []int{1, 3, 0, 1}, "AFTER"},
		{"bare word-start breaks", []int{18, 11, 18, 11, 11}, "x x"},
		{"space token breaks", []int{18, 19, 18}, "x x"},
		{"bytes to utf8", []int{15, 16, 17, 11, 12, 13, 14}, "café €"},
		{"unpaired byte", []int{18, 12, 18}, "x\uFFFDx"},
		{"leading break trimmed", []int{11, 11, 3}, "AFTER"},
		{"no text", []int{2, 2, 11}, ""},
		{"out of range ignored", []int{-1, 3, 99}, "AFTER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tok.Text(tc.ids); got != tc.want {
				t.Errorf("Text(%v) = %q, want %q", tc.ids, got, tc.want)
			}
		})
	}
}

func TestWriteToRoundTrip(t *testing.T) {
	tok := mustTokens(t, bpeTable)
	var b bytes.Buffer
	if _, err := tok.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	back := mustTokens(t, b.String())
	if back.Len() != tok.Len() {
		t.Fatalf("round trip Len %d != %d", back.Len(), tok.Len())
	}
	for id := 0; id < tok.Len(); id++ {
		if back.Symbol(id) != tok.Symbol(id) {
			t.Errorf("id %d: %q != %q", id, back.Symbol(id), tok.Symbol(id))
		}
	}
}

func FuzzTokens(f *testing.F) {
	f.Add([]byte(bpeTable))
	f.Add([]byte("<blk> 0\n1\na 2\n"))
	f.Add([]byte("b 1\n<blk> 0\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseTokens(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrTokens) {
				t.Fatalf("error does not wrap ErrTokens: %v", err)
			}
			return
		}
		if tok.Len() < 1 {
			t.Fatal("parsed an empty table")
		}
		var b bytes.Buffer
		if _, err := tok.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		back, err := ParseTokens(&b)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		ids := make([]int, tok.Len())
		for id := range ids {
			ids[id] = id
			if back.Symbol(id) != tok.Symbol(id) {
				t.Fatalf("id %d: %q became %q", id, tok.Symbol(id), back.Symbol(id))
			}
		}
		txt := tok.Text(ids)
		if !utf8.ValidString(txt) {
			t.Fatalf("Text produced invalid UTF-8 %q", txt)
		}
	})
}
