package source

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seeds in testdata/fuzz")

// Seeds: streams that reach the interesting paths of the PCR/PTS parsers and
// the pacer. They are committed under testdata/fuzz (TestFuzzSeeds keeps
// them in step with this list) and added with f.Add as well.

func seedPCR() []byte {
	const ms = clockHz / 1000
	return buildTS(pcrAt(0), filler(), pcrAt(40*ms), filler(), pkt{pid: 0x101, pcr: 80 * ms, disc: true}, pcrAt(clockWrap-ms), pcrAt(39*ms))
}

func seedPES() []byte {
	return buildTS(pkt{pid: 0x44, pcr: -1, pusi: true, payload: pesStart(0xC0, 1<<33-4500, -1)}, filler(),
		pkt{pid: 0x45, pcr: -1, pusi: true, payload: pesStart(0xE0, 9000, 6000)}, pkt{pid: 0x44, pcr: -1, pusi: true, payload: pesStart(0xC0, 4500, -1)})
}

func seedJunk() []byte {
	ts := seedPCR()
	m2ts := append([]byte{0, 0, 0, 1}, ts[:188]...)
	m2ts = append(append(m2ts, 0, 0, 0, 2), ts[188:376]...)
	return append(append(append([]byte("junk\x47\x00"), ts[:400]...), 0xDE, 0xAD), m2ts...)
}

func seedTEI() []byte {
	return buildTS(pcrAt(0), pkt{pid: 0x101, pcr: 5 * clockHz, tei: true}, pcrAt(clockHz/10))
}

var fuzzSeeds = []struct {
	name string
	data func() []byte
	pcr  uint64
}{
	{"pcr-wrap-disc", seedPCR, 0},
	{"pes-only", seedPES, clockWrap - 1},
	{"junk-m2ts", seedJunk, 12345},
	{"tei", seedTEI, 1 << 40},
	{"rtp", func() []byte {
		return append([]byte{0xA1, 33, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, append(seedPCR()[:188], 0, 2)...)
	}, 0},
	{"empty", func() []byte { return nil }, 0},
}

// FuzzPacketTime checks the PCR and PES timestamp parsers and the pacer on
// arbitrary bytes: the parsers stay in range and round-trip a PCR, and a
// realtime file of the bytes comes out unchanged, with a deadline that never
// goes back nor jumps more than a second at a time.
func FuzzPacketTime(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.data(), s.pcr)
	}
	f.Fuzz(func(t *testing.T, data []byte, pcr uint64) {
		for off := 0; off < len(data); off += 61 {
			tm, ok := parsePacketTime(data[off:])
			if ok && (tm.pcr >= clockWrap || tm.pes >= clockWrap || tm.pid > 0x1FFF || tm.pes%300 != 0) {
				t.Fatalf("out of range: %+v", tm)
			}
			if !ok && tm.hasPCR || !ok && tm.hasPES {
				t.Fatalf("timing from a rejected packet: %+v", tm)
			}
		}
		v := pcr % clockWrap
		back, ok := parsePacketTime(tsPacket(pkt{pid: uint16(pcr) & 0x1FFF, pcr: int64(v)}, 0))
		if !ok || !back.hasPCR || back.pcr != v || back.pid != uint16(pcr)&0x1FFF {
			t.Fatalf("PCR %d on PID %#x parsed as %+v", v, uint16(pcr)&0x1FFF, back)
		}
		ptsIn := int64(pcr % (1 << 33))
		if got, ok := parsePESTime(pesStart(0xC0, ptsIn, -1)); !ok || got != uint64(ptsIn)*300 {
			t.Fatalf("PTS %d parsed as %d %v", ptsIn, got, ok)
		}

		clk := newFakeClock()
		o := Options{Kind: KindFile, Realtime: true, NominalBitrate: minNominalBitrate + int64(pcr%50_000_000), Clock: clk, StallTimeout: time.Second, BitrateWindow: time.Second}
		s, err := newFileSource(t.Context(), nopCloser{bytes.NewReader(data)}, o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var out []byte
		p := make([]byte, 64+int(pcr%4096))
		for reads := 0; ; reads++ {
			if reads > len(data)+2 {
				t.Fatalf("%d reads of %d bytes without the end", reads, len(data))
			}
			n, err := s.Read(p)
			out = append(out, p[:n]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("paced output differs: %d of %d bytes", len(out), len(data))
		}
		for _, d := range clk.Sleeps() {
			if d > time.Second {
				t.Fatalf("a wait of %v (waits %v)", d, clk.Sleeps())
			}
		}
	})
}

// FuzzStripRTP: the payload is a suffix-trimmed tail of the datagram after
// at least the 12-byte header, or the datagram unchanged.
func FuzzStripRTP(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.data())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, isRTP := stripRTP(data)
		if !isRTP {
			if len(got) != len(data) || len(data) > 0 && &got[0] != &data[0] {
				t.Fatal("a datagram that is not RTP was changed")
			}
			return
		}
		if len(data) < 12 || data[0]>>6 != 2 || data[1]&0x7F != 33 || len(got) > len(data)-12 {
			t.Fatalf("stripped %d of %d bytes from a datagram that is not RTP/MP2T", len(data)-len(got), len(data))
		}
		if !bytes.Contains(data[12:], got) {
			t.Fatal("payload is not part of the datagram")
		}
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func TestFuzzSeeds(t *testing.T) {
	for _, target := range []string{"FuzzPacketTime", "FuzzStripRTP"} {
		for _, s := range fuzzSeeds {
			path := filepath.Join("testdata", "fuzz", target, s.name)
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data())
			if target == "FuzzPacketTime" {
				want += fmt.Sprintf("uint64(%d)\n", s.pcr)
			}
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("%s is missing or stale (err %v); run go test -run TestFuzzSeeds -update", path, err)
			}
		}
	}
}
