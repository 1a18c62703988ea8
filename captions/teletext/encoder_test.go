package teletext

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func mustEncoder(t testing.TB, o Options) *Encoder {
	t.Helper()
	e, err := NewEncoder(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = bits.Reverse8(v)
	}
	return out
}

// The X/0 test vector of TS-CAPTIONS.md §1.4: page 888 with C4, C6, C7.
func TestHeaderVector(t *testing.T) {
	e := mustEncoder(t, Options{})
	h := e.header(e.page, true)
	want := append(unhex(t, "15 15 D0 D0 15 D0 15 D0 02 15"), bytes.Repeat([]byte{0x20}, 32)...)
	if !bytes.Equal(h[:], want) {
		t.Fatalf("header\n got % X\nwant % X", h, want)
	}
}

// The worked PES of TS-CAPTIONS.md §1.5: "Hello" on row 22 of page 888,
// PTS 10 s, one TS packet payload.
func TestHelloPES(t *testing.T) {
	e := mustEncoder(t, Options{})
	pes := e.Show([]string{"Hello"}, 900000)
	if len(pes) != 184 {
		t.Fatalf("PES is %d bytes, want 184", len(pes))
	}
	head := append(unhex(t, "00 00 01 BD 00 B2 84 80 24 21 00 37 77 41"), bytes.Repeat([]byte{0xFF}, 31)...)
	head = append(head, 0x10)
	if !bytes.Equal(pes[:46], head) {
		t.Fatalf("PES header\n got % X\nwant % X", pes[:46], head)
	}
	u1 := append(unhex(t, "03 2C E7 E4 A8 A8 0B 0B A8 0B A8 0B 40 A8"), bytes.Repeat([]byte{0x04}, 32)...)
	if !bytes.Equal(pes[46:92], u1) {
		t.Fatalf("unit 1\n got % X\nwant % X", pes[46:92], u1)
	}
	u2 := pes[92:138]
	if !bytes.Equal(u2[:6], unhex(t, "03 2C E8 E4 A8 D9")) {
		t.Fatalf("unit 2 starts % X", u2[:6])
	}
	// Centred: "Hello" (5 cells) starts at column 17, its frame at 13.
	row := u2[6:]
	wantRow := bytes.Repeat([]byte{0x04}, 40)
	copy(wantRow[13:], unhex(t, "B0 E0 D0 D0 13 A7 37 37 F7 51 51"))
	if !bytes.Equal(row, wantRow) {
		t.Fatalf("row 22\n got % X\nwant % X", row, wantRow)
	}
	u3 := append(unhex(t, "03 2C E9 E4 A8 A8 57 57 A8 A8 A8 A8 A8 A8"), bytes.Repeat([]byte{0x04}, 32)...)
	if !bytes.Equal(pes[138:184], u3) {
		t.Fatalf("unit 3\n got % X\nwant % X", pes[138:184], u3)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		o       Options
		err     bool
		mag     int
		bcd     byte
		lang    string
		subset  Subset
		number  int
		unitID  byte
		nibble9 byte
	}{
		{o: Options{}, mag: 8, bcd: 0x88, lang: "eng", subset: SubsetEnglish, number: 888, unitID: 3, nibble9: 0},
		{o: Options{Page: 150, Language: "de"}, mag: 1, bcd: 0x50, lang: "deu", subset: SubsetGerman, number: 150, unitID: 3, nibble9: 8},
		{o: Options{Page: 801, Language: "fre", DataUnitID: 2}, mag: 8, bcd: 0x01, lang: "fre", subset: SubsetFrench, number: 801, unitID: 2, nibble9: 2},
		{o: Options{Language: "SV"}, mag: 8, bcd: 0x88, lang: "swe", subset: SubsetSwedish, number: 888, unitID: 3, nibble9: 4},
		{o: Options{Language: "ita"}, mag: 8, bcd: 0x88, lang: "ita", subset: SubsetItalian, number: 888, unitID: 3, nibble9: 0xC},
		{o: Options{Language: "es"}, mag: 8, bcd: 0x88, lang: "spa", subset: SubsetSpanish, number: 888, unitID: 3, nibble9: 0xA},
		{o: Options{Language: "cs"}, mag: 8, bcd: 0x88, lang: "ces", subset: SubsetEnglish, number: 888, unitID: 3, nibble9: 0},
		{o: Options{Language: "nld"}, mag: 8, bcd: 0x88, lang: "nld", subset: SubsetEnglish, number: 888, unitID: 3, nibble9: 0},
		{o: Options{Page: 99}, err: true},
		{o: Options{Page: 900}, err: true},
		{o: Options{DataUnitID: 0x2C}, err: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%+v", tc.o), func(t *testing.T) {
			e, err := NewEncoder(tc.o)
			if tc.err {
				if !errors.Is(err, ErrOptions) {
					t.Fatalf("err = %v, want ErrOptions", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Magazine() != tc.mag || e.PageBCD() != tc.bcd || e.Language() != tc.lang ||
				e.Subset() != tc.subset || e.PageNumber() != tc.number || e.unitID != tc.unitID {
				t.Fatalf("got mag %d bcd %#x lang %q subset %v number %d unit %d", e.Magazine(), e.PageBCD(),
					e.Language(), e.Subset(), e.PageNumber(), e.unitID)
			}
			h := e.header(e.page, true)
			if unham84[h[9]] != int8(tc.nibble9) {
				t.Fatalf("control nibble C11–C14 = %#x, want %#x", unham84[h[9]], tc.nibble9)
			}
			d, err := Decode(e.Show([]string{"x"}, 0))
			if err != nil {
				t.Fatal(err)
			}
			pg, ok := d.Find(tc.mag, tc.bcd)
			if !ok || pg.Subset != tc.subset || !pg.Erase || !pg.Subtitle || !pg.SuppressHeader || pg.Newsflash {
				t.Fatalf("decoded header %+v", pg)
			}
		})
	}
}

// TestPESShape checks the transport invariants over cue sizes.
func TestPESShape(t *testing.T) {
	e := mustEncoder(t, Options{Language: "en"})
	long := strings.Repeat("é", MaxLineCells)
	for _, lines := range [][]string{
		nil, {"a"}, {"one", "two"}, {long, long}, {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"},
		slices.Repeat([]string{long}, MaxRows),
	} {
		pes := e.Show(lines, 1<<33+5)
		if len(pes)%184 != 0 || len(pes) > MaxPESSize {
			t.Fatalf("%d lines: PES of %d bytes", len(lines), len(pes))
		}
		if l := int(pes[4])<<8 | int(pes[5]); l != len(pes)-6 {
			t.Fatalf("PES_packet_length %d for %d bytes", l, len(pes))
		}
		d, err := Decode(pes)
		if err != nil {
			t.Fatal(err)
		}
		if d.PTS != 5 {
			t.Fatalf("PTS %d, want 5 (33-bit wrap)", d.PTS)
		}
		lineOffsets := map[byte]bool{}
		for o := 46; o < len(pes); o += 46 {
			if pes[o] == 0xFF {
				continue
			}
			if pes[o] != 0x03 || pes[o+1] != 0x2C || pes[o+3] != 0xE4 || pes[o+2]&0xC0 != 0xC0 {
				t.Fatalf("unit at %d: % X", o, pes[o:o+4])
			}
			if lineOffsets[pes[o+2]] {
				t.Fatalf("line offset byte %#x used twice", pes[o+2])
			}
			lineOffsets[pes[o+2]] = true
		}
		if len(d.Pages) != 2 || d.Pages[1].Number != 0xFF || d.Pages[1].Magazine != 8 || d.Pages[1].Erase {
			t.Fatalf("pages: %+v", d.Pages)
		}
		pg := &d.Pages[0]
		if got, want := pg.Lines(), e.Layout(lines); !slices.Equal(got, want) {
			t.Fatalf("decoded %q, layout %q", got, want)
		}
	}
	if c := e.Clear(0); !bytes.Equal(c, e.Show(nil, 0)) || !bytes.Equal(c, e.Show([]string{"  ", ""}, 0)) {
		t.Fatal("Show without text differs from Clear")
	}
}

func TestLayout(t *testing.T) {
	e := mustEncoder(t, Options{Language: "de"})
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"  Hallo  Welt "}, []string{"Hallo  Welt"}},
		{[]string{"", "a", " "}, []string{"a"}},
		{[]string{"Dies ist eine ziemlich lange Zeile, die umgebrochen werden muss."},
			[]string{"Dies ist eine ziemlich lange", "Zeile, die umgebrochen werden", "muss."}},
		{[]string{strings.Repeat("x", 40)}, []string{strings.Repeat("x", 34), "xxxxxx"}},
		{[]string{"Preis: 5 € – „billig“ …"}, []string{"Preis: 5 EUR - \"billig“ ..."}},
		{[]string{"Cafe\u0301 a|b\u200b\u0007"}, []string{"Café a¦b"}},
		{[]string{"日本 🙂"}, []string{"?? ?"}},
	}
	for _, tc := range tests {
		if got := e.Layout(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Layout(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var many []string
	for i := 0; i < 20; i++ {
		many = append(many, fmt.Sprint(i))
	}
	if got := e.Layout(many); len(got) != MaxRows || got[0] != "0" || got[MaxRows-1] != "10" {
		t.Fatalf("20 lines → %q", got)
	}
}

// TestRows checks row placement: one line on 22, two on 20 and 22.
func TestRows(t *testing.T) {
	e := mustEncoder(t, Options{})
	for _, tc := range []struct {
		lines []string
		rows  []int
	}{
		{[]string{"one"}, []int{22}},
		{[]string{"one", "two"}, []int{20, 22}},
		{[]string{"a", "b", "c"}, []int{18, 20, 22}},
	} {
		d, err := Decode(e.Show(tc.lines, 0))
		if err != nil {
			t.Fatal(err)
		}
		var rows []int
		for y, sent := range d.Pages[0].RowSent {
			if sent && y > 0 {
				rows = append(rows, y)
				r := d.Pages[0].Rows[y]
				s := bytes.IndexByte(r[:], 0x0D)
				if s < 0 || r[s+1] != 0x07 || r[s+2] != 0x0B || r[s+3] != 0x0B {
					t.Fatalf("row %d: % X", y, r)
				}
				text := tc.lines[len(rows)-1]
				if string(r[s+4:s+4+len(text)]) != text || r[s+4+len(text)] != 0x0A || r[s+5+len(text)] != 0x0A {
					t.Fatalf("row %d: % X", y, r)
				}
				if left, right := s+4, Columns-(s+4+len(text)); left-right > 1 || right-left > 1 {
					t.Fatalf("row %d not centred: %d cells left, %d right", y, left, right)
				}
			}
		}
		if !slices.Equal(rows, tc.rows) {
			t.Fatalf("%q on rows %v, want %v", tc.lines, rows, tc.rows)
		}
	}
}

// TestCharacters checks which characters need X/26 per subset and that they
// decode back.
func TestCharacters(t *testing.T) {
	tests := []struct {
		lang     string
		text     string
		triplets int // character triplets expected (row address triplets excluded)
	}{
		{"de", "Zürich: Bäckerei öffnet früh.", 0},
		{"de", "Le café à côté est fermé.", 5},
		{"de", "Straße § °C ÄÖÜ", 0},
		{"de", "a@b [x] {y} ~z", 6},
		{"fr", "à é è ê ô ç ù û î ï ë â", 0},
		{"fr", "ä ö ü ß ñ å", 6},
		{"en", "£5 #1 @home ½ ¼ ¾ ÷", 0},
		{"en", "ä ö ü ß é è ê ô ñ à å ç", 12},
		{"en", "$100 ¥ ¢ © ® ™ « » ¡ ¿", 9},
		{"sv", "Åsa Öberg är här, $5", 1},
		{"it", "Perché è così? ò à ù ì É", 1},
		{"es", "¿Qué pasó? ¡Niño! ü ç à è", 0},
		{"cs", "Příliš kůň úpěl ďábelské ódy", 11},
		{"en", "Æsir Ø ð þ Œ œ Ł ł", 8},
		{"en", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{}~", 9},
	}
	for _, tc := range tests {
		t.Run(tc.lang+" "+tc.text, func(t *testing.T) {
			e := mustEncoder(t, Options{Language: tc.lang})
			d, err := Decode(e.Show([]string{tc.text}, 0))
			if err != nil {
				t.Fatal(err)
			}
			pg := &d.Pages[0]
			n := 0
			for _, tr := range pg.Triplets {
				if tr.Address < 40 {
					n++
				}
			}
			if n != tc.triplets {
				t.Errorf("%d character triplets, want %d", n, tc.triplets)
			}
			if got := pg.Lines(); len(got) != 1 || got[0] != tc.text {
				t.Fatalf("decoded %q", got)
			}
		})
	}
}

// TestLatin1 checks that every Latin-1 character shows on every subset,
// except the documented replacements.
func TestLatin1(t *testing.T) {
	replaced := map[rune]string{'|': "¦", 0xA0: " ", 0xAC: "-", 0xAD: "", 0xAF: "-", 0xB4: "'", 0xB8: ","}
	for _, s := range []Subset{SubsetEnglish, SubsetFrench, SubsetSwedish, SubsetCzech, SubsetGerman, SubsetSpanish, SubsetItalian} {
		cs := charsetFor(s)
		for r := rune(0x20); r <= 0xFF; r++ {
			if r >= 0x7F && r < 0xA0 {
				continue
			}
			got := string(replaceRunes(string(r), cs))
			want, ok := replaced[r]
			if !ok {
				want = string(r)
			}
			if got != want {
				t.Errorf("%v: %q → %q, want %q", s, r, got, want)
			}
			for _, g := range got {
				c, ok := cs.cell(g)
				if !ok {
					t.Fatalf("%v: %q has no cell", s, g)
				}
				if c.mode != 0 && (isNational(c.code) || c.code < 0x20 || c.code > 0x7E) {
					t.Errorf("%v: %q falls back to national or invalid code %#x", s, g, c.code)
				}
			}
		}
	}
}

// TestGolden pins the bytes of a few PES packets.
func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	for _, tc := range []struct {
		opts  Options
		lines []string
		pts   int64
	}{
		{Options{}, []string{"Hello teletext world", "second line here"}, 990000},
		{Options{Language: "de", Page: 777}, []string{"Grüße aus Köln –", "le café à côté"}, 1234567},
		{Options{Language: "fr", DataUnitID: 2}, nil, 42},
	} {
		e := mustEncoder(t, tc.opts)
		fmt.Fprintf(&buf, "# %+v %q pts=%d\n", tc.opts, tc.lines, tc.pts)
		pes := e.Show(tc.lines, tc.pts)
		for o := 0; o < len(pes); o += 46 {
			fmt.Fprintf(&buf, "% X\n", pes[o:min(o+46, len(pes))])
		}
	}
	path := filepath.Join("testdata", "pes.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("PES bytes differ from %s (run go test -update after checking):\n%s", path, buf.Bytes())
	}
}
