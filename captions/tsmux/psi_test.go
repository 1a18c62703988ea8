package tsmux

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestCRC32MPEG(t *testing.T) {
	if got := crc32MPEG([]byte("123456789")); got != 0x0376E6E7 {
		t.Fatalf("check value %#08x, want 0x0376E6E7", got)
	}
	s := testPMT(t, 3)
	if crc32MPEG(s) != 0 {
		t.Fatal("CRC over a whole section is not 0")
	}
}

// testPMT builds a PMT for program 1: PCR on 0x100, H.264 on 0x100 and
// AAC on 0x101 with a language descriptor.
func testPMT(t testing.TB, version byte) []byte {
	t.Helper()
	body := []byte{0x00, 0x01, 0xC1 | version<<1, 0x00, 0x00, 0xE1, 0x00, 0xF0, 0x00,
		0x1B, 0xE1, 0x00, 0xF0, 0x00,
		0x0F, 0xE1, 0x01, 0xF0, 0x06, 0x0A, 0x04, 'e', 'n', 'g', 0x00}
	l := len(body) + 4
	s := append([]byte{0x02, 0xB0 | byte(l>>8), byte(l)}, body...)
	c := crc32MPEG(s)
	return append(s, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

func TestRewritePMT(t *testing.T) {
	in := testPMT(t, 3)
	desc := teletextDescriptor("eng", 2, 8, 0x88)
	if !bytes.Equal(desc, []byte{0x56, 0x05, 0x65, 0x6E, 0x67, 0x10, 0x88}) {
		t.Fatalf("descriptor % X", desc)
	}
	out, err := rewritePMT(in, 0x102, desc, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSection(out); err != nil {
		t.Fatal(err)
	}
	entry := []byte{0x06, 0xE1, 0x02, 0xF0, 0x07, 0x56, 0x05, 0x65, 0x6E, 0x67, 0x10, 0x88}
	if !bytes.Equal(out[len(out)-4-len(entry):len(out)-4], entry) {
		t.Fatalf("entry % X", out[len(out)-16:])
	}
	if !bytes.Equal(out[3:5], in[3:5]) || !bytes.Equal(out[6:len(in)-4], in[6:len(in)-4]) {
		t.Fatal("rewrite changed other bytes")
	}
	info, err := parsePMT(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.version != 4 || !info.currentNext || info.pcrPID != 0x100 || len(info.streams) != 3 ||
		info.streams[2] != (esEntry{0x06, 0x102}) {
		t.Fatalf("parsed %+v", info)
	}
	// A PMT at the size limit has no room.
	big := make([]byte, 0, 1024)
	big = append(big, 0x00, 0x01, 0xC1, 0x00, 0x00, 0xE1, 0x00, 0xF3, 0xF0)
	big = append(big, make([]byte, 1008)...)
	l := len(big) + 4
	s := append([]byte{0x02, 0xB0 | byte(l>>8), byte(l)}, big...)
	c := crc32MPEG(s)
	s = append(s, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
	if _, err := rewritePMT(s, 0x102, desc, 1); !errors.Is(err, ErrPMTTooLarge) {
		t.Fatalf("err = %v, want ErrPMTTooLarge", err)
	}
	bad := bytes.Clone(in)
	bad[len(bad)-1] ^= 1
	if _, err := rewritePMT(bad, 0x102, desc, 1); !errors.Is(err, ErrSection) {
		t.Fatalf("bad CRC: err = %v", err)
	}
}

func TestParsePMT(t *testing.T) {
	// program_info with a registration descriptor, an ES with a language
	// descriptor, an ES without.
	body := []byte{0x00, 0x07, 0xC5, 0x00, 0x00, 0xE1, 0x01, 0xF0, 0x06, 0x05, 0x04, 'T', 'E', 'S', 'T',
		0x1B, 0xE0, 0x44, 0xF0, 0x05, 0x0A, 0x03, 'd', 'e', 'u', 0x0F, 0xE0, 0x45, 0xF0, 0x00}
	info, err := parsePMT(sectionFrom(0x02, body))
	if err != nil {
		t.Fatal(err)
	}
	want := pmtInfo{program: 7, version: 2, currentNext: true, pcrPID: 0x101,
		streams: []esEntry{{0x1B, 0x44}, {0x0F, 0x45}}}
	if info.program != want.program || info.version != want.version || !info.currentNext ||
		info.pcrPID != want.pcrPID || !slices.Equal(info.streams, want.streams) {
		t.Fatalf("parsed %+v, want %+v", info, want)
	}
	for _, bad := range [][]byte{
		{0x00, 0x07, 0xC5, 0x00, 0x00, 0xE1, 0x01, 0xF0, 0x20},             // program_info past the end
		{0x00, 0x07, 0xC5, 0x00, 0x00, 0xE1, 0x01, 0xF0, 0x00, 0x1B, 0xE0}, // truncated ES
		{0x00, 0x07, 0xC5, 0x00, 0x00, 0xE1, 0x01, 0xF0, 0x00, 0x1B, 0xE0, 0x44, 0xF0, 0x09},
	} {
		if _, err := parsePMT(sectionFrom(0x02, bad)); !errors.Is(err, ErrSection) {
			t.Errorf("% X: err = %v", bad, err)
		}
	}
	if _, err := parsePMT(sectionFrom(0x42, body)); !errors.Is(err, ErrSection) {
		t.Errorf("SDT accepted as PMT: %v", err)
	}
}

func TestSectionAssembler(t *testing.T) {
	sec := func(n int, fill byte) []byte {
		body := bytes.Repeat([]byte{fill}, n)
		l := len(body) + 4
		s := append([]byte{0x02, 0xB0 | byte(l>>8), byte(l)}, body...)
		c := crc32MPEG(s)
		return append(s, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
	}
	a1, a2, long := sec(20, 1), sec(30, 2), sec(400, 3)
	type pkt struct {
		pusi    bool
		cc      uint8
		payload []byte
	}
	tests := []struct {
		name string
		pkts []pkt
		want [][]byte
	}{
		{"one", []pkt{{true, 0, append([]byte{0}, a1...)}}, [][]byte{a1}},
		{"two in a packet", []pkt{{true, 0, append(append([]byte{0}, a1...), a2...)}}, [][]byte{a1, a2}},
		{"stuffing ends", []pkt{{true, 0, append(append(append([]byte{0}, a1...), 0xFF, 0xFF), a2...)}}, [][]byte{a1}},
		{"spans packets", []pkt{{true, 0, append([]byte{0}, long[:183]...)}, {false, 1, long[183:367]}, {false, 2, long[367:]}},
			[][]byte{long}},
		{"pointer field", []pkt{{true, 0, append([]byte{0}, long[:183]...)}, {false, 1, long[183:367]},
			{true, 2, append(append([]byte{byte(len(long) - 367)}, long[367:]...), a1...)}}, [][]byte{long, a1}},
		{"lost packet", []pkt{{true, 0, append([]byte{0}, long[:183]...)}, {false, 2, long[367:]},
			{true, 3, append([]byte{0}, a2...)}}, [][]byte{a2}},
		{"duplicate", []pkt{{true, 0, append([]byte{0}, long[:183]...)}, {false, 1, long[183:367]},
			{false, 1, long[183:367]}, {false, 2, long[367:]}}, [][]byte{long}},
		{"no start", []pkt{{false, 0, a1}}, nil},
		{"bad pointer", []pkt{{true, 0, []byte{200, 1, 2}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newSectionAssembler()
			var got [][]byte
			for _, p := range tc.pkts {
				a.push(p.payload, p.pusi, p.cc, func(s []byte) { got = append(got, bytes.Clone(s)) })
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d sections, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Fatalf("section %d differs", i)
				}
			}
		})
	}
}

func TestPacketizeSection(t *testing.T) {
	for _, n := range []int{10, 183, 184, 400} {
		s := bytes.Repeat([]byte{0xAB}, n)
		var cc uint8 = 14
		pkts := packetizeSection(nil, s, 0x1000, &cc)
		if len(pkts)%tsSize != 0 {
			t.Fatalf("%d bytes", len(pkts))
		}
		var got []byte
		for o, i := 0, 0; o < len(pkts); o, i = o+tsSize, i+1 {
			p := pkts[o : o+tsSize]
			if pid := uint16(p[1]&0x1F)<<8 | uint16(p[2]); pid != 0x1000 || p[3]&0xF != byte(14+i)&0xF {
				t.Fatalf("packet %d header % X", i, p[:4])
			}
			payload, pusi, _, _ := payloadOf(p)
			if pusi != (i == 0) {
				t.Fatalf("packet %d PUSI %v", i, pusi)
			}
			if i == 0 {
				got = append(got, payload[1:]...)
			} else {
				got = append(got, payload...)
			}
		}
		if !bytes.Equal(got[:n], s) || len(bytes.Trim(got[n:], "\xff")) != 0 {
			t.Fatalf("%d bytes: payload differs", n)
		}
	}
}
