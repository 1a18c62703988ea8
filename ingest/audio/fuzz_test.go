package audio

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/ingest"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seeds in testdata/fuzz/FuzzDecode")

// FuzzDecode feeds arbitrary bytes to a decoder of each codec, cut into
// payloads, with PTS jumps, missing PTS and discontinuities, and checks that
// every Frame is in range and on its segment's sample clock.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), uint16(7), []byte{0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc, 0x21, 0x00})
	f.Add(uint8(5), uint16(3), []byte{0x78, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, codec uint8, split uint16, data []byte) {
		fuzzDecode(t, codec, split, data)
	})
}

// fuzzDecode is the body of FuzzDecode; it returns the number of Frames.
// codec picks the codec; split's low 11 bits are the payload size (Opus: the
// packet size), bit 13 adds a 5 s PTS jump, bit 14 a MarkDiscontinuity, bit
// 15 selects mono Opus.
func fuzzDecode(t *testing.T, codec uint8, split uint16, data []byte) int {
	c := ingest.Codec(1 + int(codec)%6)
	d, err := NewDecoder(c, Options{OpusChannels: 1 + int(split>>15)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	chunk := 1 + int(split&0x7ff)
	pts := int64(1<<33 - 45000)
	var frames []ingest.Frame
	for i, k := 0, 0; i < len(data); i, k = i+chunk, k+1 {
		end := min(i+chunk, len(data))
		if split&0x4000 != 0 && k == 2 {
			d.MarkDiscontinuity()
		}
		out, err := d.Decode(data[i:end], pts, k%3 != 1, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, out...)
		pts += 1920
		if split&0x2000 != 0 && k == 3 {
			pts += 5 * ingest.PTSHz
		}
	}
	frames = append(frames, d.Flush()...)
	n := 0
	for _, s := range segments(t, frames) {
		n += len(s.samples)
	}
	if st := d.Stats(); st.SamplesOut != uint64(n) || st.BytesIn != uint64(len(data)) {
		t.Fatalf("stats %+v, but %d samples out of %d bytes", st, n, len(data))
	}
	return len(frames)
}

const seedDir = "testdata/fuzz/FuzzDecode"

// codecIndex is the FuzzDecode codec byte for c.
func codecIndex(c ingest.Codec) uint8 { return uint8(c - 1) }

// TestFuzzSeeds checks the committed seeds: every codec has a seed cut from
// a real stream that decodes to audio. With -update it rewrites them.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		writeSeeds(t)
	}
	for c := range specs {
		name := "stream-" + c.String()
		codec, split, data := readSeed(t, filepath.Join(seedDir, name))
		if codec != codecIndex(c) {
			t.Errorf("%s: codec byte %d, want %d", name, codec, codecIndex(c))
		}
		if n := fuzzDecode(t, codec, split, data); n == 0 {
			t.Errorf("%s: decodes to no frames", name)
		}
	}
	entries, err := os.ReadDir(seedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		codec, split, data := readSeed(t, filepath.Join(seedDir, e.Name()))
		fuzzDecode(t, codec, split, data)
	}
}

func writeSeeds(t *testing.T) {
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, codec uint8, split uint16, data []byte) {
		body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\nuint16(%d)\n[]byte(%q)\n", codec, split, data)
		if err := os.WriteFile(filepath.Join(seedDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for c := range specs {
		s := encode(t, specs[c], srcTone)
		if c == ingest.CodecOpus {
			// Three packets of equal size, when the encoder made them.
			n := s.aus[1].size
			var data []byte
			for i := 1; i < len(s.aus) && len(data) < 3*n; i++ {
				if s.aus[i].size == n {
					data = append(data, s.au(i)...)
				}
			}
			write("stream-opus", codecIndex(c), uint16(n-1), data)
			continue
		}
		end := s.aus[4].off + s.aus[4].size
		// Payloads of 300 bytes, a 5 s PTS jump and a discontinuity.
		write("stream-"+c.String(), codecIndex(c), 299|0x2000|0x4000, s.data[:end])
		// The same access units with their bodies zeroed.
		z := append([]byte(nil), s.data[:end]...)
		for _, a := range s.aus[:5] {
			clear(z[a.off+min(8, a.size) : a.off+a.size])
		}
		write("zeroed-"+c.String(), codecIndex(c), 1000, z)
	}
	write("garbage-adts-sync", codecIndex(ingest.CodecAACADTS), 64,
		[]byte("\xff\xf1\xff\xff\xff\xff\xff\xff\xf1\x00\x00\x00\x00\x00\x00\xff\xf9\x4c\x80"))
	write("garbage-latm-sync", codecIndex(ingest.CodecAACLATM), 5,
		[]byte("\x56\xe0\x10\xff\xff\xff\x56\xe0\x01\x00\x56\xe0\x00"))
	write("garbage-ac3-sync", codecIndex(ingest.CodecAC3), 11,
		[]byte("\x0b\x77\x00\x00\x3f\xff\x0b\x77\xff\xff\xff\xff\x0b\x77"))
	write("garbage-opus-code3", codecIndex(ingest.CodecOpus), 2|0x8000,
		[]byte("\xfb\xff\x03\x3f\x00\xff"))
}

// readSeed parses a committed seed file.
func readSeed(t *testing.T, path string) (uint8, uint16, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read seed: %v (regenerate with go test -run TestFuzzSeeds -update)", err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 4 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a FuzzDecode seed", path)
	}
	arg := func(line, prefix string) string {
		if !strings.HasPrefix(line, prefix+"(") || !strings.HasSuffix(line, ")") {
			t.Fatalf("%s: %q is not a %s", path, line, prefix)
		}
		return line[len(prefix)+1 : len(line)-1]
	}
	b, err := strconv.Unquote(arg(lines[1], "byte"))
	if err != nil || len(b) != 1 {
		t.Fatalf("%s: codec byte %q: %v", path, lines[1], err)
	}
	split, err := strconv.ParseUint(arg(lines[2], "uint16"), 10, 16)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	data, err := strconv.Unquote(arg(lines[3], "[]byte"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b[0], uint16(split), []byte(data)
}
