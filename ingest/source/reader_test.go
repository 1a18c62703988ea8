package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestStdinReadsInOrder(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 20000) // several chunks
	s := openT(t, Options{Kind: KindStdin, Reader: bytes.NewReader(data)})
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, err %v", len(got), err)
	}
	if st := s.Stats(); st.State != StateClosed || st.BytesIn != uint64(len(data)) || st.Addr != "stdin" {
		t.Fatalf("stats %+v", st)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		r.n--
		return copy(p, "ts"), nil
	}
	return 0, errors.New("device gone")
}

func TestStdinError(t *testing.T) {
	s := openT(t, Options{Kind: KindStdin, Reader: &failingReader{n: 2}})
	got, err := io.ReadAll(s)
	if string(got) != "tsts" || err == nil || !strings.Contains(err.Error(), "device gone") {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, again := s.Read(make([]byte, 4)); again == nil || again.Error() != err.Error() {
		t.Fatalf("error not sticky: %v", again)
	}
	if st := s.Stats(); st.State != StateFailed || !strings.Contains(st.LastError, "device gone") {
		t.Fatalf("stats %+v", st)
	}
}

// TestStdinStates walks connecting → live → stalled → live → closed on a
// fake clock, with a pipe as stdin.
func TestStdinStates(t *testing.T) {
	clk := newFakeClock()
	pr, pw := io.Pipe()
	defer pw.Close()
	s := openT(t, Options{Kind: KindStdin, Reader: pr, Clock: clk, StallTimeout: 2 * time.Second})
	if st := s.Stats(); st.State != StateConnecting || !st.Since.Equal(epoch) {
		t.Fatalf("at start: %+v", st)
	}
	write := func(b string) {
		go pw.Write([]byte(b))
		p := make([]byte, 10)
		if n, err := s.Read(p); err != nil || string(p[:n]) != b {
			t.Fatalf("read %q, %v", p[:n], err)
		}
	}
	write("abc")
	if st := s.Stats(); st.State != StateLive || !st.LastData.Equal(epoch) {
		t.Fatalf("after data: %+v", st)
	}
	clk.Advance(1999 * time.Millisecond)
	if st := s.Stats(); st.State != StateLive {
		t.Fatalf("before the stall timeout: %v", st.State)
	}
	clk.Advance(time.Millisecond)
	st := s.Stats()
	if st.State != StateStalled || !st.Since.Equal(epoch.Add(2*time.Second)) {
		t.Fatalf("after the stall timeout: %+v", st)
	}
	clk.Advance(3 * time.Second)
	write("def")
	if st := s.Stats(); st.State != StateLive || !st.Since.Equal(epoch.Add(5*time.Second)) {
		t.Fatalf("after data again: %+v", st)
	}
	// Close unblocks a pending Read and closes the pipe.
	ch := readAsync(s, make([]byte, 10))
	s.Close()
	if r := awaitRead(t, ch); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Read after Close: %v", r.err)
	}
	if _, err := pw.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("the reader was not closed: write %v", err)
	}
	if st := s.Stats(); st.State != StateClosed {
		t.Fatalf("after Close: %v", st.State)
	}
}

// blockingReader blocks until released; it is not an io.Closer.
type blockingReader struct{ release chan struct{} }

func (r blockingReader) Read([]byte) (int, error) {
	<-r.release
	return 0, io.EOF
}

func TestStdinCancelUnblocksRead(t *testing.T) {
	r := blockingReader{make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Open(ctx, Options{Kind: KindStdin, Reader: r})
	if err != nil {
		t.Fatal(err)
	}
	ch := readAsync(s, make([]byte, 10))
	cancel()
	res := awaitRead(t, ch)
	if !errors.Is(res.err, ErrClosed) || !errors.Is(res.err, context.Canceled) {
		t.Fatalf("Read after cancel: %v", res.err)
	}
	s.Close()
	// The pump is still in the plain reader's Read; it ends when that does.
	close(r.release)
	<-s.(*readerSource).done
}

func TestStdinNoReader(t *testing.T) {
	if _, err := Open(t.Context(), Options{Kind: KindStdin}); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("err %v", err)
	}
}

func TestBitrateWindow(t *testing.T) {
	clk := newFakeClock()
	m := newMeter(KindStdin, "x", Options{Clock: clk, StallTimeout: time.Hour, BitrateWindow: 5 * time.Second})
	if b := m.stats().BitrateBps; b != 0 {
		t.Fatalf("bitrate before data %v", b)
	}
	// 10 s at 1 Mbit/s: 12 500 bytes every 100 ms.
	for range 100 {
		m.data(12_500)
		clk.Advance(100 * time.Millisecond)
	}
	if b := m.stats().BitrateBps; b < 0.99e6 || b > 1.01e6 {
		t.Fatalf("steady 1 Mbit/s measured as %v", b)
	}
	// Then 3 Mbit/s for 10 s: the window forgets the slower past.
	for range 100 {
		m.data(37_500)
		clk.Advance(100 * time.Millisecond)
	}
	if b := m.stats().BitrateBps; b < 2.97e6 || b > 3.03e6 {
		t.Fatalf("steady 3 Mbit/s measured as %v", b)
	}
	clk.Advance(6 * time.Second)
	if b := m.stats().BitrateBps; b != 0 {
		t.Fatalf("bitrate after 6 s of silence %v", b)
	}
	// A young source divides by its age, not the whole window.
	young := newMeter(KindStdin, "x", Options{Clock: clk, StallTimeout: time.Hour, BitrateWindow: 5 * time.Second})
	young.data(125_000)
	clk.Advance(time.Second)
	if b := young.stats().BitrateBps; b != 1e6 {
		t.Fatalf("1 Mbit in the first second measured as %v", b)
	}
}
