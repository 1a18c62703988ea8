package mpegts

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seeds in testdata/fuzz")

// Seeds: tiny streams that reach the interesting paths. They are committed
// under testdata/fuzz (TestFuzzSeeds keeps them in step with this list) and
// added with f.Add as well.

func seedTS() []byte { return buildSimple(2, 30, 1<<33-9000, 0x0F, langDesc("eng", 0), nil) }

func seedTwoStreams() []byte {
	return multiAudio([]testES{{pid: 0x100, st: 0x82}, {pid: 0x101, st: 0x06, desc: regDesc("Opus")}, {pid: 0x102, st: 0x03, desc: langDesc("eng", 0)}}, 1)
}

func seedFaults() []byte {
	pkts := splitPackets(buildSimple(3, 200, 0, 0x81, nil, func(i int, _ *tsBuilder, pts *int64, o *pktOpts) bool {
		o.disc = i == 1
		o.tsc = byte(i&1) << 1
		return true
	}))
	out := append([]byte{0xDE, 0xAD, 0xBE, 0xEF, 0x00}, joinPackets(pkts[:3])...)
	out = append(out, 0x47, 0x47, 0x00)
	return append(out, joinPackets(pkts[4:])...)
}

func seedM2TS() []byte {
	var out []byte
	for i, p := range splitPackets(seedTS()) {
		out = append(append(out, 0, 0, byte(i), 0x47), p...)
	}
	return out
}

var fuzzSeeds = []struct {
	name string
	data func() []byte
	mode byte
}{
	{"ts", seedTS, 0},
	{"two-streams-eng", seedTwoStreams, 1},
	{"faults-program1", seedFaults, 2},
	{"m2ts", seedM2TS, 0},
	{"not-ts", func() []byte { return []byte("#EXTM3U\n") }, 0},
}

// FuzzResync feeds arbitrary bytes to Resync. Odd modes first force a sync
// byte every 188 bytes, after which the output must equal the input.
func FuzzResync(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.data(), s.mode)
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		aligned := mode&1 != 0
		if aligned {
			data = bytes.Clone(data[:len(data)/PacketSize*PacketSize])
			for i := 0; i < len(data); i += PacketSize {
				data[i] = syncByte
			}
		}
		rs := NewResync(bytes.NewReader(data))
		var out []byte
		var err error
		for n := 0; ; n++ {
			if n > len(data)/PacketSize+1 {
				t.Fatalf("more packets than the input holds")
			}
			var p []byte
			if p, err = rs.NextPacket(); err != nil {
				break
			}
			if len(p) != PacketSize || p[0] != syncByte {
				t.Fatalf("bad packet")
			}
			out = append(out, p...)
		}
		switch {
		case errors.Is(err, io.EOF):
			checkAccounting(t, rs.Stats())
		case errors.Is(err, ErrNotTS):
			if len(out) != 0 {
				t.Fatalf("ErrNotTS after %d packets", len(out)/PacketSize)
			}
		default:
			t.Fatalf("err = %v", err)
		}
		if aligned {
			if len(data) >= 2*PacketSize && (!errors.Is(err, io.EOF) || !bytes.Equal(out, data)) {
				t.Fatalf("aligned input not passed through: err %v, %d of %d bytes", err, len(out), len(data))
			}
			viaRead, rerr := io.ReadAll(NewResync(bytes.NewReader(data)))
			if !bytes.Equal(viaRead, out) || (rerr != nil && !errors.Is(rerr, ErrNotTS)) {
				t.Fatalf("Read and NextPacket disagree: err %v", rerr)
			}
		}
	})
}

// FuzzDemux feeds arbitrary bytes to the Demuxer with options picked by mode.
// It must end with io.EOF or ErrNotTS, never panic or loop, and only deliver
// PES that satisfy the documented invariants.
func FuzzDemux(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.data(), s.mode)
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		opts := Options{ProbePackets: 20, MaxPESSize: 4096}
		if mode&1 != 0 {
			opts.Language = "eng"
		}
		if mode&2 != 0 {
			opts.Program = 1
		}
		d, err := New(bytes.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		limit := 4*len(data)/PacketSize + 16
		var end error
		for n := 0; end == nil; n++ {
			if n > limit {
				t.Fatalf("Next called %d times on %d bytes without reaching the end", n, len(data))
			}
			p, err := d.Next(t.Context())
			switch {
			case err == nil:
				if p.Codec == 0 || len(p.Data) > opts.MaxPESSize || p.PID < pidFirstUser || p.PID >= pidNull {
					t.Fatalf("bad PES %+v", p)
				}
			case isReport(err):
			default:
				end = err
			}
		}
		s := d.Stats()
		switch {
		case errors.Is(end, io.EOF):
			got := s.Packets*PacketSize + s.BytesSkipped + s.TailBytes
			if s.BytesRead != uint64(len(data)) || got > s.BytesRead || (s.PacketStride == PacketSize && got != s.BytesRead) {
				t.Fatalf("accounting: %+v for %d bytes", s, len(data))
			}
		case errors.Is(end, ErrNotTS):
		default:
			t.Fatalf("end = %v", end)
		}
		if s.ParserPanics > 0 { // recovered, but a bug all the same (RELIABILITY.md §10.5)
			t.Fatalf("go-astits panicked on this input")
		}
		if s.PESDelivered > s.Packets {
			t.Fatalf("more PES than packets: %+v", s)
		}
	})
}

// TestFuzzSeeds keeps testdata/fuzz in step with fuzzSeeds and
// casesSplitOpus; run with -update to rewrite it.
func TestFuzzSeeds(t *testing.T) {
	for _, target := range []string{"FuzzResync", "FuzzDemux"} {
		for _, s := range fuzzSeeds {
			path := filepath.Join("testdata", "fuzz", target, s.name)
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", s.data(), s.mode)
			checkSeed(t, path, want)
		}
	}
	for _, c := range casesSplitOpus {
		if c.name == "three" || c.name == "trims and extension" || c.name == "good then junk" {
			path := filepath.Join("testdata", "fuzz", "FuzzSplitOpus", strings.ReplaceAll(c.name, " ", "-"))
			checkSeed(t, path, fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", c.in))
		}
	}
}

// checkSeed compares a committed seed file with its content, or writes it
// with -update.
func checkSeed(t *testing.T, path, want string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s is missing or stale (err %v); run go test -run TestFuzzSeeds -update", path, err)
	}
}
