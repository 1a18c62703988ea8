package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// delivery is one Read of a paced source and the virtual time it returned.
type delivery struct {
	at   time.Time
	data []byte
}

// readAllTimed reads s to its end (at most limit bytes) with buffers of
// size n, noting the clock after each Read.
func readAllTimed(t *testing.T, s Source, clk Clock, n, limit int) ([]delivery, error) {
	t.Helper()
	var out []delivery
	total := 0
	for total < limit {
		p := make([]byte, n)
		k, err := s.Read(p)
		if k > 0 {
			out = append(out, delivery{clk.Now(), p[:k]})
			total += k
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func joined(ds []delivery) []byte {
	var b []byte
	for _, d := range ds {
		b = append(b, d.data...)
	}
	return b
}

// pcrTimes maps the byte offset of each packet that carries a PCR on the
// first PCR PID (scanning aligned 188-byte packets, as the fixtures are) to
// the PCR in ticks.
func pcrTimes(t *testing.T, data []byte) (offsets []int, pcrs []int64) {
	t.Helper()
	pid := -1
	for off := 0; off+packetSize <= len(data); off += packetSize {
		p := data[off : off+packetSize]
		if p[0] != syncByte {
			t.Fatalf("fixture not aligned at %d", off)
		}
		if p[3]&0x20 == 0 || p[4] < 7 || p[5]&0x10 == 0 {
			continue
		}
		thisPID := int(p[1]&0x1F)<<8 | int(p[2])
		if pid < 0 {
			pid = thisPID
		}
		if thisPID != pid {
			continue
		}
		base := int64(p[6])<<25 | int64(p[7])<<17 | int64(p[8])<<9 | int64(p[9])<<1 | int64(p[10]>>7)
		offsets = append(offsets, off)
		pcrs = append(pcrs, base*300+(int64(p[10]&1)<<8|int64(p[11])))
	}
	return offsets, pcrs
}

// deliveredAt returns the time the byte at offset was delivered.
func deliveredAt(ds []delivery, offset int) time.Time {
	pos := 0
	for _, d := range ds {
		if offset < pos+len(d.data) {
			return d.at
		}
		pos += len(d.data)
	}
	return time.Time{}
}

func openT(t *testing.T, o Options) Source {
	t.Helper()
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFileFast(t *testing.T) {
	data := buildTS(filler(), pcrAt(0), filler(), pcrAt(100*clockHz))
	s := openT(t, Options{Kind: KindFile, Path: writeTemp(t, "a.ts", data)})
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, err %v; want the file's %d bytes", len(got), err, len(data))
	}
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, io.EOF) {
		t.Fatalf("Read after the end: %v, want io.EOF again", err)
	}
	st := s.Stats()
	if st.State != StateClosed || st.BytesIn != uint64(len(data)) || st.Loops != 0 || st.LastError != "" {
		t.Fatalf("stats %+v", st)
	}
}

// TestFileRealtimeFFmpeg paces a 3 s ffmpeg-made TS on a virtual clock:
// every PCR packet comes out exactly at its PCR time measured from the
// first, never before, and the whole file takes its PCR span.
func TestFileRealtimeFFmpeg(t *testing.T) {
	path := av3s(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	s := openT(t, Options{Kind: KindFile, Path: path, Realtime: true, Clock: clk})
	if fs := s.(*fileSource); fs.source != byPCR {
		t.Fatalf("paced by %v, want PCR", fs.source)
	}
	ds, err := readAllTimed(t, s, clk, 32<<10, len(data)+1)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err %v, want io.EOF", err)
	}
	if !bytes.Equal(joined(ds), data) {
		t.Fatal("paced bytes differ from the file")
	}
	offsets, pcrs := pcrTimes(t, data)
	if len(pcrs) < 30 {
		t.Fatalf("fixture has only %d PCRs", len(pcrs))
	}
	start := deliveredAt(ds, offsets[0])
	for i, off := range offsets {
		want := start.Add(ticksToDuration(pcrs[i] - pcrs[0]))
		if got := deliveredAt(ds, off); !got.Equal(want) {
			t.Fatalf("PCR packet %d (offset %d) delivered at %v, want %v", i, off, got.Sub(start), want.Sub(start))
		}
	}
	// The packets between two PCRs go out with the first of them.
	for i := 1; i < len(offsets); i++ {
		if before := deliveredAt(ds, offsets[i]-1); !before.Equal(deliveredAt(ds, offsets[i-1])) {
			t.Fatalf("the packet before PCR %d went out at %v, not with PCR %d", i, before.Sub(start), i-1)
		}
	}
	span := clk.Now().Sub(epoch)
	if span < 2800*time.Millisecond || span > 3100*time.Millisecond {
		t.Fatalf("a 3 s file took %v of stream time", span)
	}
	if st := s.Stats(); st.BytesIn != uint64(len(data)) || st.BitrateBps <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFileRealtimePTS paces a file without PCR by the PTS of its PES.
func TestFileRealtimePTS(t *testing.T) {
	var pkts []pkt
	for i := range 10 {
		pkts = append(pkts, pkt{pid: 0x44, pcr: -1, pusi: true, payload: pesStart(0xC0, 90000+int64(i)*9000, -1)}, filler())
	}
	data := buildTS(pkts...)
	clk := newFakeClock()
	s := openT(t, Options{Kind: KindFile, Path: writeTemp(t, "pts.ts", data), Realtime: true, Clock: clk})
	if fs := s.(*fileSource); fs.source != byPES {
		t.Fatalf("paced by %v, want PTS", fs.source)
	}
	ds, err := readAllTimed(t, s, clk, 4096, len(data)+1)
	if !errors.Is(err, io.EOF) || !bytes.Equal(joined(ds), data) {
		t.Fatalf("err %v, %d bytes", err, len(joined(ds)))
	}
	for i := range 10 {
		if got := deliveredAt(ds, 2*i*packetSize).Sub(epoch); got != time.Duration(i)*100*time.Millisecond {
			t.Fatalf("PES %d delivered at %v, want %v", i, got, time.Duration(i)*100*time.Millisecond)
		}
	}
}

// TestFileRealtimeBitrate paces a file without timestamps at the nominal
// bitrate.
func TestFileRealtimeBitrate(t *testing.T) {
	var pkts []pkt
	for range 1000 {
		pkts = append(pkts, filler())
	}
	data := buildTS(pkts...)
	clk := newFakeClock()
	const bitrate = 188 * 8 * 100 // 100 packets a second
	s := openT(t, Options{Kind: KindFile, Path: writeTemp(t, "flat.ts", data), Realtime: true, NominalBitrate: bitrate, Clock: clk})
	ds, err := readAllTimed(t, s, clk, 1<<20, len(data)+1)
	if !errors.Is(err, io.EOF) || !bytes.Equal(joined(ds), data) {
		t.Fatalf("err %v, %d bytes", err, len(joined(ds)))
	}
	// The last packet starts at byte 999×188, which is due at 9.99 s.
	if got := clk.Now().Sub(epoch); got != 9990*time.Millisecond {
		t.Fatalf("1000 packets at 100/s took %v, want 9.99s", got)
	}
	for i := 0; i < 1000; i += 37 {
		if at := deliveredAt(ds, i*packetSize).Sub(epoch); at > time.Duration(i)*10*time.Millisecond {
			t.Fatalf("packet %d delivered at %v, after its time", i, at)
		}
	}
}

// TestFileRealtimeJumps: a wrap and an unflagged jump in the PCR neither
// stall nor burst the pacing.
func TestFileRealtimeJumps(t *testing.T) {
	const ms = clockHz / 1000
	stamps := []int64{clockWrap - 80*ms, clockWrap - 40*ms, 0, 40 * ms, 7200 * clockHz, 7200*clockHz + 40*ms}
	var pkts []pkt
	for _, s := range stamps {
		pkts = append(pkts, pcrAt(s), filler())
	}
	data := buildTS(pkts...)
	clk := newFakeClock()
	s := openT(t, Options{Kind: KindFile, Path: writeTemp(t, "jumps.ts", data), Realtime: true, Clock: clk})
	ds, err := readAllTimed(t, s, clk, 4096, len(data)+1)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	for i := range stamps {
		want := time.Duration(i) * 40 * time.Millisecond
		if got := deliveredAt(ds, 2*i*packetSize).Sub(epoch); got != want {
			t.Fatalf("stamp %d delivered at %v, want %v", i, got, want)
		}
	}
}

func TestFileLoop(t *testing.T) {
	data := buildTS(pcrAt(0), filler(), pcrAt(clockHz/10), filler())
	cases := []struct {
		name     string
		realtime bool
	}{{"fast", false}, {"realtime", true}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newFakeClock()
			s := openT(t, Options{Kind: KindFile, Path: writeTemp(t, "loop.ts", data), Loop: true, Realtime: c.realtime, Clock: clk})
			ds, err := readAllTimed(t, s, clk, 100, 3*len(data))
			if err != nil {
				t.Fatal(err)
			}
			got := joined(ds)
			if len(got) < 3*len(data) {
				t.Fatalf("read %d bytes", len(got))
			}
			for i := range got {
				if got[i] != data[i%len(data)] {
					t.Fatalf("byte %d differs from the file's byte %d", i, i%len(data))
				}
			}
			if st := s.Stats(); st.Loops < 2 || st.State != StateLive {
				t.Fatalf("stats %+v, want at least 2 loops and live", st)
			}
			if c.realtime {
				// Each pass holds one 100 ms interval; the loop adds one more, so
				// the PCR packets go out every 100 ms throughout.
				for pass := range 3 {
					for k, off := range []int{0, 2 * packetSize} {
						want := time.Duration(2*pass+k) * 100 * time.Millisecond
						if at := deliveredAt(ds, pass*len(data)+off).Sub(epoch); at != want {
							t.Fatalf("pass %d PCR %d at %v, want %v", pass, k, at, want)
						}
					}
				}
			}
		})
	}
}

func TestFileLoopEmpty(t *testing.T) {
	s := openT(t, Options{Kind: KindFile, Path: writeTemp(t, "empty.ts", nil), Loop: true, Realtime: true, Clock: newFakeClock()})
	if n, err := s.Read(make([]byte, 10)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("empty looping file: %d, %v; want io.EOF", n, err)
	}
}

func TestFileJunkAndM2TS(t *testing.T) {
	ts := buildTS(pcrAt(0), filler(), pcrAt(clockHz/2), filler())
	var m2ts []byte
	for i := 0; i < len(ts); i += packetSize {
		m2ts = append(append(m2ts, 0, 0, 0, byte(i)), ts[i:i+packetSize]...)
	}
	cases := []struct {
		name string
		data []byte
		want time.Duration
	}{
		{"junk between packets", append(append(append([]byte("junk"), ts[:376]...), 0xDE, 0xAD, 0x47, 0), ts[376:]...), 500 * time.Millisecond},
		{"192-byte packets", m2ts, 500 * time.Millisecond},
		{"not ts", bytes.Repeat([]byte("text "), 1000), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newFakeClock()
			s := openT(t, Options{Kind: KindFile, Path: writeTemp(t, "x.ts", c.data), Realtime: true, Clock: clk, NominalBitrate: 1e9})
			ds, err := readAllTimed(t, s, clk, 1000, len(c.data)+1)
			if !errors.Is(err, io.EOF) || !bytes.Equal(joined(ds), c.data) {
				t.Fatalf("err %v, %d of %d bytes", err, len(joined(ds)), len(c.data))
			}
			if got := clk.Now().Sub(epoch).Round(time.Millisecond); got != c.want {
				t.Fatalf("took %v, want %v", got, c.want)
			}
		})
	}
}

// TestFileCloseUnblocksPacedRead: Read waits for the next PCR (on the
// system clock); Close and the end of the context end the wait.
func TestFileCloseUnblocksPacedRead(t *testing.T) {
	data := buildTS(pcrAt(0), filler(), pcrAt(clockHz*9/10), filler(), pcrAt(clockHz*18/10))
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, err := Open(ctx, Options{Kind: KindFile, Path: writeTemp(t, "slow.ts", data), Realtime: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if n, err := s.Read(make([]byte, 4096)); n != 2*packetSize || err != nil {
				t.Fatalf("first run: %d, %v", n, err)
			}
			ch := readAsync(s, make([]byte, 4096))
			if how == "close" {
				s.Close()
			} else {
				cancel()
			}
			r := awaitRead(t, ch)
			if r.n != 0 && r.err == nil {
				// The wait may have ended before the close: read on.
				r.n, r.err = s.Read(make([]byte, 4096))
			}
			if !errors.Is(r.err, ErrClosed) {
				t.Fatalf("Read after %s: %d, %v; want ErrClosed", how, r.n, r.err)
			}
			if how == "cancel" && !errors.Is(r.err, context.Canceled) {
				t.Fatalf("err %v does not wrap context.Canceled", r.err)
			}
			waitFor(t, "closed state", func() bool { return s.Stats().State == StateClosed })
		})
	}
}

func TestFileOpenErrors(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want error
	}{
		{"no path", Options{Kind: KindFile}, ErrInvalidOption},
		{"missing", Options{Kind: KindFile, Path: "/nonexistent/x.ts"}, os.ErrNotExist},
		{"negative bitrate", Options{Kind: KindFile, Path: "x", NominalBitrate: -1}, ErrInvalidOption},
		{"unknown kind", Options{Kind: "srt"}, ErrInvalidOption},
		{"negative stall", Options{Kind: KindFile, Path: "x", StallTimeout: -1}, ErrInvalidOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.Context(), c.o)
			if !errors.Is(err, c.want) || s != nil {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}
