package source

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// streamServer serves GET requests with handle, numbering them from 1.
type streamServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newStreamServer(t *testing.T, tls bool, handle func(n int, w http.ResponseWriter, r *http.Request)) *streamServer {
	t.Helper()
	s := &streamServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(int(s.requests.Add(1)), w, r)
	})
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// send writes b and flushes it to the client.
func send(w http.ResponseWriter, b []byte) {
	w.Write(b)
	w.(http.Flusher).Flush()
}

// hold keeps the response open until the client goes away.
func hold(r *http.Request) { <-r.Context().Done() }

func openHTTPT(t *testing.T, url string, o Options) Source {
	t.Helper()
	o.Kind, o.URL = KindHTTP, url
	return openT(t, o)
}

// readN reads exactly n bytes.
func readN(t *testing.T, s Source, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(s, b); err != nil {
		t.Fatalf("reading %d bytes: %v (stats %+v)", n, err, s.Stats())
	}
	return b
}

// TestHTTPReconnectAfterDrop: the first response is cut off, the second
// ends cleanly; both count as disconnects and the source reads on from the
// next response.
func TestHTTPReconnectAfterDrop(t *testing.T) {
	a, b, c := bytes.Repeat([]byte{'A'}, 3000), bytes.Repeat([]byte{'B'}, 3000), bytes.Repeat([]byte{'C'}, 3000)
	srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			send(w, a)
			panic(http.ErrAbortHandler) // drop the connection mid-response
		case 2:
			send(w, b) // a clean end of the response
		default:
			send(w, c)
			hold(r)
		}
	})
	clk := newFakeClock()
	min, max := 100*time.Millisecond, time.Second
	s := openHTTPT(t, srv.URL+"/live.ts", Options{Clock: clk, ReconnectMin: min, ReconnectMax: max})
	if st := s.Stats(); st.State != StateConnecting || st.Addr != srv.URL+"/live.ts" {
		t.Fatalf("before the first Read: %+v", st)
	}
	got := readN(t, s, 9000)
	if !bytes.Equal(got, append(append(append([]byte{}, a...), b...), c...)) {
		t.Fatal("bytes across reconnects are not the responses in order")
	}
	st := s.Stats()
	if st.State != StateLive || st.Reconnects != 2 || st.BytesIn != 9000 || !strings.Contains(st.LastError, "ended the stream") {
		t.Fatalf("stats %+v", st)
	}
	// Both connections had delivered data: each wait is drawn from
	// [min/2, min].
	sleeps := clk.Sleeps()
	if len(sleeps) != 2 {
		t.Fatalf("backoff waits %v, want 2", sleeps)
	}
	for _, d := range sleeps {
		if d < min/2 || d > min {
			t.Fatalf("backoff waits %v, want each within [%v, %v]", sleeps, min/2, min)
		}
	}
}

// TestHTTPBackoff: failing attempts back off exponentially with jitter up to
// the maximum, then the stream is read.
func TestHTTPBackoff(t *testing.T) {
	const failures = 6
	srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= failures {
			http.Error(w, "origin warming up", http.StatusServiceUnavailable)
			return
		}
		send(w, []byte("ts"))
		hold(r)
	})
	clk := newFakeClock()
	min, max := 100*time.Millisecond, time.Second
	s := openHTTPT(t, srv.URL, Options{Clock: clk, ReconnectMin: min, ReconnectMax: max})
	if got := readN(t, s, 2); string(got) != "ts" {
		t.Fatalf("got %q", got)
	}
	sleeps := clk.Sleeps()
	if len(sleeps) != failures {
		t.Fatalf("waits %v, want %d", sleeps, failures)
	}
	for i, d := range sleeps {
		base := min << (i + 1)
		if base > max {
			base = max
		}
		if d < base/2 || d > base {
			t.Fatalf("wait %d is %v, want within [%v, %v] (all: %v)", i, d, base/2, base, sleeps)
		}
	}
	st := s.Stats()
	if st.Reconnects != failures || st.State != StateLive || !strings.Contains(st.LastError, "503") {
		t.Fatalf("stats %+v", st)
	}
}

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		code      int
		permanent bool
	}{
		{http.StatusNotFound, true},
		{http.StatusForbidden, true},
		{http.StatusTooManyRequests, false},
		{http.StatusRequestTimeout, false},
		{http.StatusBadGateway, false},
		{http.StatusNotModified, false},
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.code), func(t *testing.T) {
			srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.code)
			})
			s := openHTTPT(t, srv.URL, Options{Clock: newFakeClock(), MaxAttempts: 3})
			_, err := s.Read(make([]byte, 10))
			var se *StatusError
			if !errors.Is(err, ErrHTTPStatus) || !errors.As(err, &se) || se.Code != c.code {
				t.Fatalf("err %v, want a StatusError %d", err, c.code)
			}
			wantRequests, wantGaveUp := int32(3), true
			if c.permanent {
				wantRequests, wantGaveUp = 1, false
			}
			if got := srv.requests.Load(); got != wantRequests || errors.Is(err, ErrGaveUp) != wantGaveUp {
				t.Fatalf("%d requests, err %v; want %d requests, gave up %v", got, err, wantRequests, wantGaveUp)
			}
			if st := s.Stats(); st.State != StateFailed || !strings.Contains(st.LastError, http.StatusText(c.code)) {
				t.Fatalf("stats %+v", st)
			}
			if _, again := s.Read(make([]byte, 10)); again != err {
				t.Fatalf("error not sticky: %v", again)
			}
		})
	}
}

// TestHTTPStall: the server stops sending but keeps the connection; the
// source reports stalled after StallTimeout and live again when data comes.
func TestHTTPStall(t *testing.T) {
	more := make(chan struct{})
	srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		send(w, []byte("first"))
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
		send(w, []byte("second"))
		hold(r)
	})
	clk := newFakeClock()
	s := openHTTPT(t, srv.URL, Options{Clock: clk, StallTimeout: 5 * time.Second})
	readN(t, s, 5)
	if st := s.Stats(); st.State != StateLive || !st.Since.Equal(epoch) {
		t.Fatalf("after data: %+v", st)
	}
	ch := readAsync(s, make([]byte, 6))
	clk.Advance(5 * time.Second)
	if st := s.Stats(); st.State != StateStalled || !st.Since.Equal(epoch.Add(5*time.Second)) {
		t.Fatalf("after 5 s without data: %+v", st)
	}
	close(more)
	if r := awaitRead(t, ch); r.err != nil || r.n == 0 {
		t.Fatalf("Read after the stall: %d, %v", r.n, r.err)
	}
	if st := s.Stats(); st.State != StateLive || !st.Since.Equal(epoch.Add(5*time.Second)) || st.Reconnects != 0 {
		t.Fatalf("after data again: %+v", st)
	}
}

// TestHTTPCloseUnblocksRead: a Read waiting for a silent server returns
// ErrClosed on Close or on the end of the context.
func TestHTTPCloseUnblocksRead(t *testing.T) {
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			started := make(chan struct{}, 1)
			srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				started <- struct{}{}
				hold(r)
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, err := Open(ctx, Options{Kind: KindHTTP, URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ch := readAsync(s, make([]byte, 10))
			<-started
			if how == "close" {
				s.Close()
			} else {
				cancel()
			}
			if r := awaitRead(t, ch); !errors.Is(r.err, ErrClosed) {
				t.Fatalf("Read after %s: %v", how, r.err)
			}
			waitFor(t, "closed state", func() bool { return s.Stats().State == StateClosed })
		})
	}
}

// TestHTTPCloseDuringBackoff: Close ends the wait between attempts.
func TestHTTPCloseDuringBackoff(t *testing.T) {
	srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	s := openHTTPT(t, srv.URL, Options{ReconnectMin: time.Hour, ReconnectMax: time.Hour})
	ch := readAsync(s, make([]byte, 10))
	waitFor(t, "the first attempt", func() bool { return srv.requests.Load() == 1 && s.Stats().LastError != "" })
	s.Close()
	if r := awaitRead(t, ch); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Read after Close: %v", r.err)
	}
}

// TestHTTPTimeouts: a server that never answers the headers, or goes
// silent after them, is dropped and tried again.
func TestHTTPTimeouts(t *testing.T) {
	t.Run("header", func(t *testing.T) {
		srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) { hold(r) })
		s := openHTTPT(t, srv.URL, Options{Clock: newFakeClock(), HeaderTimeout: 50 * time.Millisecond, MaxAttempts: 2})
		_, err := s.Read(make([]byte, 10))
		if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "timeout awaiting response headers") {
			t.Fatalf("err %v", err)
		}
		if got := srv.requests.Load(); got != 2 {
			t.Fatalf("%d requests, want 2", got)
		}
	})
	t.Run("read", func(t *testing.T) {
		srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
			send(w, []byte{byte('0' + n)})
			hold(r)
		})
		s := openHTTPT(t, srv.URL, Options{Clock: newFakeClock(), ReadTimeout: 50 * time.Millisecond})
		if got := readN(t, s, 2); string(got) != "12" {
			t.Fatalf("got %q, want the first byte of two connections", got)
		}
		if st := s.Stats(); st.Reconnects != 1 || !strings.Contains(st.LastError, "no data for 50ms") {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestHTTPS(t *testing.T) {
	srv := newStreamServer(t, true, func(n int, w http.ResponseWriter, r *http.Request) {
		send(w, []byte("secure ts"))
		hold(r)
	})
	t.Run("trusted", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		tlsConf.RootCAs = pool
		s := openHTTPT(t, srv.URL, Options{TLSConfig: tlsConf})
		if got := readN(t, s, 9); string(got) != "secure ts" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("untrusted certificate fails at once", func(t *testing.T) {
		before := srv.requests.Load()
		s := openHTTPT(t, srv.URL, Options{Clock: newFakeClock()})
		_, err := s.Read(make([]byte, 10))
		if err == nil || errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err %v, want a certificate error", err)
		}
		if st := s.Stats(); st.State != StateFailed || st.Reconnects != 0 {
			t.Fatalf("stats %+v", st)
		}
		if srv.requests.Load() != before {
			t.Fatal("a request got through an untrusted certificate")
		}
	})
}

func TestHTTPMaxAttemptsCountsEmptyResponses(t *testing.T) {
	// 200 responses that end before any byte: each is a failed attempt.
	srv := newStreamServer(t, false, func(n int, w http.ResponseWriter, r *http.Request) {})
	s := openHTTPT(t, srv.URL, Options{Clock: newFakeClock(), MaxAttempts: 4})
	_, err := s.Read(make([]byte, 10))
	if !errors.Is(err, ErrGaveUp) || srv.requests.Load() != 4 {
		t.Fatalf("err %v after %d requests", err, srv.requests.Load())
	}
}

func TestHTTPOptionErrors(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"no URL", Options{}},
		{"ftp", Options{URL: "ftp://example.com/a.ts"}},
		{"no host", Options{URL: "http:///a.ts"}},
		{"max below min", Options{URL: "http://example.com/", ReconnectMin: time.Second, ReconnectMax: time.Millisecond}},
		{"negative attempts", Options{URL: "http://example.com/", MaxAttempts: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Kind = KindHTTP
			if _, err := Open(t.Context(), c.o); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("err %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestHTTPRedactsPassword(t *testing.T) {
	s := openHTTPT(t, "http://user:secret@example.invalid/live.ts", Options{})
	if st := s.Stats(); strings.Contains(st.Addr, "secret") {
		t.Fatalf("Addr %q shows the password", st.Addr)
	}
}
