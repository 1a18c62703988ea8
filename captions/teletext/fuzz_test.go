package teletext

import (
	"slices"
	"strings"
	"testing"
)

var fuzzLanguages = []string{"en", "de", "fr", "sv", "it", "es", "cs", "pl"}

// FuzzEncode encodes random cue text, decodes the PES with Decode and
// checks that the page shows exactly the documented layout, and that the
// layout keeps every word of the replaced text in order.
func FuzzEncode(f *testing.F) {
	f.Add("Hello teletext world\nsecond line here", uint8(0), int64(900000))
	f.Add("Zürich: Bäckerei öffnet früh.\nLe café à côté est fermé.", uint8(1), int64(1<<33-1))
	f.Add("ä ö ü ß é è ê ô ñ à å ç | € … „x“ 日本", uint8(2), int64(0))
	f.Add(strings.Repeat("Wörter und noch mehr Wörter ", 30), uint8(1), int64(12345))
	f.Fuzz(func(t *testing.T, text string, lang uint8, pts int64) {
		if len(text) > 2000 {
			return
		}
		language := fuzzLanguages[int(lang)%len(fuzzLanguages)]
		e, err := NewEncoder(Options{Language: language})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(text, "\n")
		pes := e.Show(lines, pts)
		if len(pes)%184 != 0 || len(pes) > MaxPESSize {
			t.Fatalf("PES of %d bytes", len(pes))
		}
		d, err := Decode(pes)
		if err != nil {
			t.Fatal(err)
		}
		if d.PTS != pts&(1<<33-1) || d.Errors != 0 {
			t.Fatalf("PTS %d (sent %d), %d errors", d.PTS, pts, d.Errors)
		}
		pg, ok := d.Find(8, 0x88)
		if !ok {
			t.Fatal("page 888 missing")
		}
		got := pg.Lines()
		layout := e.Layout(lines)
		if !slices.Equal(got, layout) {
			t.Fatalf("decoded %q\n layout %q", got, layout)
		}
		// Unless rows were cut, the layout holds the words of the
		// replaced text.
		var words []string
		for _, l := range lines {
			words = append(words, strings.Fields(Replace(l, language))...)
		}
		var laidOut []string
		for _, l := range layout {
			laidOut = append(laidOut, strings.Fields(l)...)
		}
		if len(layout) < MaxRows && strings.Join(words, "") != strings.Join(laidOut, "") {
			t.Fatalf("words %q\nlayout %q", words, laidOut)
		}
		for _, l := range layout {
			if n := len([]rune(l)); n > MaxLineCells {
				t.Fatalf("row of %d cells: %q", n, l)
			}
		}
	})
}

// FuzzDecode feeds arbitrary bytes to Decode, which must not panic, and
// re-decodes valid PES with flipped bits.
func FuzzDecode(f *testing.F) {
	e, _ := NewEncoder(Options{Language: "de"})
	f.Add(e.Show([]string{"Grüße", "le café"}, 900000))
	f.Add(e.Clear(1))
	f.Add([]byte{0, 0, 1, 0xBD, 0, 0, 0x84, 0x80, 0x24})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _ := Decode(b)
		for i := range d.Pages {
			_ = d.Pages[i].Lines()
		}
	})
}
