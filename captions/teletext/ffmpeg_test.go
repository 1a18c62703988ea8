package teletext

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/subtitled/subtitled/captions/format"
	"github.com/subtitled/subtitled/tools/testenv"
)

// These tests check the character tables against libzvbi through ffmpeg:
// every character the encoder claims to represent must come back from a
// real Level 1.5 decoder as itself.

// crc32MPEG is CRC-32/MPEG-2, for the test stream's PSI.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for i := 0; i < 8; i++ {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// tsWriter builds a minimal single-program TS: PAT, PMT with one teletext
// ES on PID 0x100 (which also carries the PCR), and the caption PES.
type tsWriter struct {
	buf bytes.Buffer
	cc  map[uint16]byte
	pmt []byte
}

func newTSWriter(e *Encoder) *tsWriter {
	w := &tsWriter{cc: map[uint16]byte{}}
	desc := []byte{0x56, 5, e.iso[0], e.iso[1], e.iso[2], 2<<3 | byte(e.magazine&7), e.page}
	es := append([]byte{0x06, 0xE1, 0x00, 0xF0, byte(len(desc))}, desc...)
	body := append([]byte{0x00, 0x01, 0xC1, 0x00, 0x00, 0xE1, 0x00, 0xF0, 0x00}, es...)
	w.pmt = section(0x02, body)
	return w
}

func section(tableID byte, body []byte) []byte {
	l := len(body) + 4
	s := append([]byte{tableID, 0xB0 | byte(l>>8), byte(l)}, body...)
	c := crc32MPEG(s)
	return append(s, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

func (w *tsWriter) packet(pid uint16, pusi bool, af []byte, payload []byte) {
	var p [188]byte
	p[0] = 0x47
	p[1] = byte(pid >> 8)
	if pusi {
		p[1] |= 0x40
	}
	p[2] = byte(pid)
	o := 4
	afc := byte(0)
	if af != nil {
		afc |= 2
		p[4] = byte(len(af))
		copy(p[5:], af)
		o = 5 + len(af)
	}
	if payload != nil {
		afc |= 1
		copy(p[o:], payload)
		for i := o + len(payload); i < 188; i++ {
			p[i] = 0xFF
		}
		w.cc[pid] = (w.cc[pid] + 1) & 0xF
	}
	p[3] = afc<<4 | w.cc[pid]
	w.buf.Write(p[:])
}

func (w *tsWriter) psi() {
	pat := section(0x00, []byte{0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00})
	w.packet(0, true, nil, append([]byte{0}, pat...))
	w.packet(0x1000, true, nil, append([]byte{0}, w.pmt...))
}

// pes writes the PSI, a PCR 20 ms before pts, and the PES.
func (w *tsWriter) pes(b []byte, pts int64) {
	w.psi()
	pcr := pts - 1800
	af := make([]byte, 183)
	af[0] = 0x10
	af[1], af[2], af[3], af[4] = byte(pcr>>25), byte(pcr>>17), byte(pcr>>9), byte(pcr>>1)
	af[5], af[6] = byte(pcr&1)<<7|0x7E, 0
	for i := 7; i < len(af); i++ {
		af[i] = 0xFF
	}
	w.packet(0x100, false, af, nil)
	for o := 0; o < len(b); o += 184 {
		w.packet(0x100, o == 0, nil, b[o:o+184])
	}
}

// decodeFFmpeg writes ts to a file and decodes page 888 with ffmpeg.
func decodeFFmpeg(t *testing.T, ts []byte) []format.ParsedCue {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.ts")
	if err := os.WriteFile(in, ts, 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := format.ParseSRT(bytes.NewReader(testenv.DecodeTeletext(t, in, "888")))
	if err != nil {
		t.Fatal(err)
	}
	return file.Cues
}

// chunks splits the runes of s into space-free pieces of at most n runes,
// separated by spaces, so that the decoder's space trimming cannot hide a
// character.
func chunks(rs []rune, n int) []string {
	var out []string
	for len(rs) > 0 {
		k := min(n, len(rs))
		var b strings.Builder
		for i, r := range rs[:k] {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteRune(r)
		}
		out = append(out, b.String())
		rs = rs[k:]
	}
	return out
}

func TestCharsetsThroughFFmpeg(t *testing.T) {
	// Everything the encoder claims: Latin-1 and ASCII, the composed
	// letters of Latin Extended-A, and every G2 character.
	var all []rune
	seen := map[rune]bool{}
	add := func(r rune) {
		if !seen[r] && r != ' ' {
			seen[r] = true
			all = append(all, r)
		}
	}
	for r := rune(0x21); r <= 0xFF; r++ {
		if r < 0x7F || r >= 0xA1 {
			add(r)
		}
	}
	for _, s := range composedSets {
		for _, r := range s.composed {
			add(r)
		}
	}
	for r := range g2Code {
		add(r)
	}
	for _, lang := range []string{"en", "de", "fr", "sv", "it", "es"} {
		t.Run(lang, func(t *testing.T) {
			e := mustEncoder(t, Options{Language: lang})
			var want []string
			for _, c := range chunks(all, 17) {
				want = append(want, Replace(c, lang))
			}
			w := newTSWriter(e)
			var wantCues []string
			for i := 0; i < len(want); i += 2 {
				lines := want[i:min(i+2, len(want))]
				pts := int64(900000 + i*90000)
				w.pes(e.Show(lines, pts), pts)
				w.pes(e.Clear(pts+45000), pts+45000)
				wantCues = append(wantCues, strings.Join(lines, "\n"))
			}
			cues := decodeFFmpeg(t, w.buf.Bytes())
			var got []string
			for _, c := range cues {
				if txt := unescapeSRT(strings.TrimSpace(c.Text())); txt != "" {
					got = append(got, txt)
				}
			}
			if len(got) != len(wantCues) {
				t.Fatalf("ffmpeg gave %d cues, want %d: %q", len(got), len(wantCues), got)
			}
			for i := range got {
				if got[i] != wantCues[i] {
					t.Errorf("cue %d:\n got %q\nwant %q", i, got[i], wantCues[i])
					diffRunes(t, got[i], wantCues[i])
				}
			}
		})
	}
}

func diffRunes(t *testing.T, got, want string) {
	g, w := []rune(got), []rune(want)
	for i := 0; i < min(len(g), len(w)); i++ {
		if g[i] != w[i] {
			t.Logf("first difference at rune %d: got %U %q, want %U %q", i, g[i], g[i], w[i], w[i])
			return
		}
	}
	t.Logf("lengths %d vs %d (utf8 valid %v)", len(g), len(w), utf8.ValidString(got))
}

// unescapeSRT undoes ffmpeg's escaping of \ { } in SRT text.
func unescapeSRT(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\{`, "{", `\}`, "}").Replace(s)
}
