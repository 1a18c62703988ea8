package mpegts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/asticode/go-astits"
)

// cleanTS is a synthetic single-program stream of 40 audio PES.
func cleanTS() []byte { return buildSimple(40, 400, 90000, 0x0F, nil, nil) }

// garbage returns n random bytes with plenty of 0x47 among them.
func garbage(r *rand.Rand, n int) []byte {
	g := make([]byte, n)
	for i := range g {
		g[i] = byte(r.UintN(256))
		if r.UintN(8) == 0 {
			g[i] = syncByte
		}
	}
	return g
}

// readAllPackets drains a Resync with NextPacket and checks each packet.
func readAllPackets(t testing.TB, rs *Resync) ([]byte, error) {
	t.Helper()
	var out []byte
	for {
		p, err := rs.NextPacket()
		if err != nil {
			return out, err
		}
		if len(p) != PacketSize || p[0] != syncByte {
			t.Fatalf("bad packet: len %d first byte %#x", len(p), p[0])
		}
		out = append(out, p...)
	}
}

func checkAccounting(t testing.TB, s ResyncStats) {
	t.Helper()
	if got := s.Packets*PacketSize + s.StrideBytes + s.BytesSkipped + s.TailBytes; got != s.BytesRead {
		t.Fatalf("accounting: packets·188 + stride + skipped + tail = %d, bytes read %d (%+v)", got, s.BytesRead, s)
	}
}

func TestResyncClean(t *testing.T) {
	in := cleanTS()
	rs := NewResync(bytes.NewReader(in))
	out, err := readAllPackets(t, rs)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want io.EOF", err)
	}
	if !bytes.Equal(out, in) {
		t.Fatal("output differs from clean input")
	}
	s := rs.Stats()
	want := ResyncStats{BytesRead: uint64(len(in)), Packets: uint64(len(in) / PacketSize), PacketStride: 188}
	if s != want {
		t.Fatalf("stats = %+v, want %+v", s, want)
	}
	if _, err := rs.NextPacket(); !errors.Is(err, io.EOF) {
		t.Fatalf("after EOF: err = %v, want io.EOF again", err)
	}
}

func TestResyncGarbage(t *testing.T) {
	in := cleanTS()
	n := len(in) / PacketSize
	r := rand.New(rand.NewPCG(1, 2))
	lead := garbage(r, 1000)
	var dirty []byte
	dirty = append(dirty, lead...)
	inserted, total := 0, len(lead)
	for i := range n {
		dirty = append(dirty, in[i*PacketSize:(i+1)*PacketSize]...)
		if i%37 == 20 && i < n-1 {
			g := garbage(r, 1+int(r.UintN(600)))
			if g[0] == syncByte {
				g[0] = 0 // a 0x47 right where the next packet is due would be a valid sync byte
			}
			dirty = append(dirty, g...)
			inserted++
			total += len(g)
		}
	}
	rs := NewResync(bytes.NewReader(dirty))
	out, err := readAllPackets(t, rs)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v", err)
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("resynchronised output differs from the clean stream (%d vs %d bytes)", len(out), len(in))
	}
	s := rs.Stats()
	checkAccounting(t, s)
	if s.SyncLosses != uint64(inserted) || s.SyncByteErrors != uint64(inserted) || s.BytesSkipped != uint64(total) {
		t.Fatalf("stats = %+v, want %d losses and sync byte errors, %d bytes skipped", s, inserted, total)
	}
}

func TestResyncCorruptSyncByte(t *testing.T) {
	in := cleanTS()
	dirty := bytes.Clone(in)
	dirty[10*PacketSize] = 0x46
	rs := NewResync(bytes.NewReader(dirty))
	out, err := readAllPackets(t, rs)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v", err)
	}
	want := append(bytes.Clone(in[:10*PacketSize]), in[11*PacketSize:]...)
	if !bytes.Equal(out, want) {
		t.Fatal("want every packet but the corrupt one")
	}
	s := rs.Stats()
	checkAccounting(t, s)
	if s.SyncByteErrors != 1 || s.SyncLosses != 0 || s.BytesSkipped != PacketSize {
		t.Fatalf("stats = %+v", s)
	}
}

func TestResyncCorruptLastSyncByte(t *testing.T) {
	in := cleanTS()
	dirty := bytes.Clone(in)
	dirty[len(in)-PacketSize] = 0
	rs := NewResync(bytes.NewReader(dirty))
	out, err := readAllPackets(t, rs)
	if !errors.Is(err, io.EOF) || !bytes.Equal(out, in[:len(in)-PacketSize]) {
		t.Fatalf("err = %v, %d bytes", err, len(out))
	}
	checkAccounting(t, rs.Stats())
}

func TestResyncTruncated(t *testing.T) {
	in := cleanTS()
	cut := in[:len(in)/2+77]
	rs := NewResync(bytes.NewReader(cut))
	out, err := readAllPackets(t, rs)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v", err)
	}
	whole := len(cut) / PacketSize * PacketSize
	if !bytes.Equal(out, in[:whole]) {
		t.Fatal("want the whole packets")
	}
	s := rs.Stats()
	checkAccounting(t, s)
	if s.TailBytes != uint64(len(cut)-whole) {
		t.Fatalf("tail = %d, want %d", s.TailBytes, len(cut)-whole)
	}
}

func TestResyncStrides(t *testing.T) {
	in := cleanTS()
	for _, stride := range []int{192, 204} {
		var framed []byte
		for i := 0; i < len(in); i += PacketSize {
			if stride == 192 { // a 4-byte arrival time stamp before each packet
				ats := uint32(i/PacketSize*2000 + 0x47000000)
				framed = append(append(framed, byte(ats>>24), byte(ats>>16), byte(ats>>8), byte(ats)), in[i:i+PacketSize]...)
			} else { // Reed-Solomon bytes; worst case, all sync bytes
				extra := bytes.Repeat([]byte{syncByte}, stride-PacketSize)
				framed = append(append(framed, in[i:i+PacketSize]...), extra...)
			}
		}
		rs := NewResync(bytes.NewReader(framed))
		out, err := readAllPackets(t, rs)
		if !errors.Is(err, io.EOF) || !bytes.Equal(out, in) {
			t.Fatalf("stride %d: err = %v, output equal %v", stride, err, bytes.Equal(out, in))
		}
		s := rs.Stats()
		checkAccounting(t, s)
		if s.PacketStride != stride || s.SyncLosses != 0 {
			t.Fatalf("stride %d: stats %+v", stride, s)
		}
	}
}

func TestResyncNotTS(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	noise := make([]byte, 100<<10)
	for i := range noise {
		noise[i] = byte(r.UintN(256))
	}
	cases := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"text", []byte("#EXTM3U\n#EXT-X-VERSION:3\n")},
		{"noise", noise},
		{"one packet only", cleanTS()[:PacketSize]},
		{"too much garbage first", append(bytes.Repeat([]byte{0}, DefaultNotTSLimit+1), cleanTS()...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := NewResync(bytes.NewReader(c.in))
			_, err := readAllPackets(t, rs)
			if !errors.Is(err, ErrNotTS) {
				t.Fatalf("err = %v, want ErrNotTS", err)
			}
			if _, err2 := rs.NextPacket(); !errors.Is(err2, ErrNotTS) {
				t.Fatalf("error not sticky: %v", err2)
			}
		})
	}
	// Garbage just under the limit is fine.
	in := append(bytes.Repeat([]byte{0}, DefaultNotTSLimit-10), cleanTS()...)
	if _, err := readAllPackets(t, NewResync(bytes.NewReader(in))); !errors.Is(err, io.EOF) {
		t.Fatalf("garbage under the limit: err = %v", err)
	}
}

func TestResyncReaders(t *testing.T) {
	in := cleanTS()
	dirty := append(append([]byte("junk"), in[:5000]...), in[5000/PacketSize*PacketSize+PacketSize:]...)
	ref, _ := readAllPackets(t, NewResync(bytes.NewReader(dirty)))
	readers := map[string]io.Reader{
		"one byte":  iotest.OneByteReader(bytes.NewReader(dirty)),
		"half":      iotest.HalfReader(bytes.NewReader(dirty)),
		"data+err":  iotest.DataErrReader(bytes.NewReader(dirty)),
		"read-all":  bytes.NewBuffer(dirty),
		"timeout":   &retryReader{r: iotest.TimeoutReader(bytes.NewReader(dirty))},
		"zero-then": &zeroReader{r: bytes.NewReader(dirty), zeros: 50},
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			rs := NewResync(r)
			out, err := readAllPackets(t, rs)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("err = %v", err)
			}
			if !bytes.Equal(out, ref) {
				t.Fatal("output depends on read sizes")
			}
			checkAccounting(t, rs.Stats())
		})
	}
}

// retryReader hides a single iotest.ErrTimeout so the read is retried.
type retryReader struct{ r io.Reader }

func (r *retryReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if errors.Is(err, iotest.ErrTimeout) {
		err = nil
	}
	return n, err
}

// zeroReader returns (0, nil) zeros times between reads.
type zeroReader struct {
	r     io.Reader
	zeros int
	n     int
}

func (r *zeroReader) Read(p []byte) (int, error) {
	if r.n++; r.n%(r.zeros+1) != 0 {
		return 0, nil
	}
	return r.r.Read(p)
}

func TestResyncNoProgress(t *testing.T) {
	rs := NewResync(&zeroReader{r: bytes.NewReader(nil), zeros: 1 << 30})
	if _, err := rs.NextPacket(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}

func TestResyncReadError(t *testing.T) {
	in := cleanTS()[:20*PacketSize]
	boom := errors.New("boom")
	rs := NewResync(io.MultiReader(bytes.NewReader(in), iotest.ErrReader(boom)))
	out, err := readAllPackets(t, rs)
	if !errors.Is(err, boom) || !bytes.Equal(out, in) {
		t.Fatalf("err = %v, %d bytes; want all packets then the read error", err, len(out))
	}
}

// TestResyncReader checks the io.Reader face, in front of go-astits: on a
// stream with garbage between packets astits stops at the first lost sync
// byte, and behind Resync it parses everything.
func TestResyncReader(t *testing.T) {
	in := cleanTS()
	dirty := bytes.Clone(in[:7*PacketSize])
	dirty = append(dirty, 0xDE, 0xAD, 0xBE, 0xEF, 0x00)
	dirty = append(dirty, in[7*PacketSize:]...)

	got, err := io.ReadAll(NewResync(iotest.HalfReader(bytes.NewReader(dirty))))
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("ReadAll: err %v, equal %v", err, bytes.Equal(got, in))
	}

	count := func(r io.Reader) (pes int, err error) {
		dmx := astits.NewDemuxer(context.Background(), r, astits.DemuxerOptPacketSize(PacketSize))
		for {
			d, err := dmx.NextData()
			if errors.Is(err, astits.ErrNoMorePackets) {
				return pes, nil
			}
			if err != nil {
				return pes, err
			}
			if d.PES != nil {
				pes++
			}
		}
	}
	clean, err := count(bytes.NewReader(in))
	if err != nil || clean != 40 {
		t.Fatalf("astits on the clean stream: %d PES, err %v", clean, err)
	}
	if n, err := count(bytes.NewReader(dirty)); err == nil || n >= clean {
		t.Fatalf("astits without Resync: %d PES, err %v; expected it to stop early", n, err)
	}
	if n, err := count(NewResync(bytes.NewReader(dirty))); err != nil || n != clean {
		t.Fatalf("astits behind Resync: %d PES, err %v; want %d", n, err, clean)
	}
}
