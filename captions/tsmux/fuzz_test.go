package tsmux

import (
	"bytes"
	"slices"
	"testing"

	"github.com/subtitled/subtitled/captions"
)

// sectionFrom builds a long-form section of table tableID around body,
// with a correct length and CRC.
func sectionFrom(tableID byte, body []byte) []byte {
	l := len(body) + 4
	s := append([]byte{tableID, 0xB0 | byte(l>>8&0x0F), byte(l)}, body...)
	c := crc32MPEG(s)
	return append(s, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

// FuzzRewritePMT checks the PMT rewriter on arbitrary sections: it never
// panics, and a section that parses comes out with a valid CRC, the new
// version and the teletext entry after the original streams. The section
// also goes through a Mux, which must keep producing whole packets.
func FuzzRewritePMT(f *testing.F) {
	f.Add(testPMT(f, 3)[3:len(testPMT(f, 3))-4], true)
	f.Add([]byte{0x00, 0x01, 0xC1, 0x00, 0x00, 0xE1, 0x00, 0xF0, 0x00}, true)
	f.Add([]byte{0x00, 0x01, 0xC1, 0x00, 0x00, 0xE1, 0x00, 0xFF, 0xFF, 0x1B}, true)
	f.Add(testPMT(f, 1), false)
	f.Fuzz(func(t *testing.T, b []byte, fixCRC bool) {
		if len(b) > 1100 {
			return
		}
		s := b
		if fixCRC {
			s = sectionFrom(0x02, b)
		}
		desc := teletextDescriptor("deu", 2, 1, 0x50)
		out, err := rewritePMT(s, 0x1234, desc, 7)
		info, perr := parsePMT(s)
		if err == nil {
			if cerr := checkSection(out); cerr != nil {
				t.Fatalf("rewritten section invalid: %v", cerr)
			}
			if perr == nil {
				got, err := parsePMT(out)
				if err != nil {
					t.Fatalf("rewritten PMT does not parse: %v", err)
				}
				want := append(slices.Clone(info.streams), esEntry{0x06, 0x1234})
				if got.version != 7 || got.program != info.program || got.pcrPID != info.pcrPID ||
					!slices.Equal(got.streams, want) {
					t.Fatalf("rewritten %+v from %+v", got, info)
				}
			}
		} else if checkSection(s) == nil && len(s)+12 <= maxPSISection {
			t.Fatalf("valid section of %d bytes rejected: %v", len(s), err)
		}

		// Through the mux: PAT, the section on the PMT PID, PCR packets.
		var in []byte
		var patCC, pmtCC uint8
		pat := sectionFrom(0x00, []byte{0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00})
		for i := 0; i < 3; i++ {
			in = packetizeSection(in, pat, 0, &patCC)
			in = packetizeSection(in, s, 0x1000, &pmtCC)
			in = append(in, pcrPacket(0x100, int64(i)*2700000, uint8(i))...)
		}
		var w bytes.Buffer
		m, err := New(&w, Options{Sync: SyncDelay, Delay: 50_000_000})
		if err != nil {
			t.Fatal(err)
		}
		_ = m.AddCue(captions.Cue{Start: 9000, End: 90000, Lines: []string{"x"}})
		for o := 0; o < len(in); o += tsSize {
			if err := m.WritePacket(in[o : o+tsSize]); err != nil {
				break
			}
		}
		_ = m.Close()
		if w.Len()%tsSize != 0 {
			t.Fatalf("output of %d bytes", w.Len())
		}
	})
}

// pcrPacket is an adaptation-field-only packet with a PCR (27 MHz).
func pcrPacket(pid uint16, pcr int64, cc uint8) []byte {
	p := make([]byte, tsSize)
	p[0], p[1], p[2], p[3] = 0x47, byte(pid>>8), byte(pid), 0x20|cc&0xF
	p[4], p[5] = 183, 0x10
	base, ext := pcr/300, pcr%300
	p[6], p[7], p[8], p[9] = byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1)
	p[10], p[11] = byte(base&1)<<7|0x7E|byte(ext>>8), byte(ext)
	for i := 12; i < tsSize; i++ {
		p[i] = 0xFF
	}
	return p
}
