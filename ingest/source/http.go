package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// httpSource pulls a TS over HTTP(S), reconnecting whenever the response
// ends. Read does the connecting itself; no goroutine of ours runs.
type httpSource struct {
	*meter
	ctx       context.Context
	cancel    context.CancelCauseFunc
	o         Options
	url       string
	client    *http.Client
	transport *http.Transport
	once      sync.Once

	// mu guards the current response against Close while no Read holds it.
	mu         sync.Mutex
	body       io.ReadCloser
	connCancel context.CancelFunc
	idle       *time.Timer // drops a connection silent for ReadTimeout
	reading    bool

	idleFired atomic.Bool
	attempts  int  // connection attempts made
	failures  int  // consecutive attempts that delivered no data
	gotData   bool // the current connection delivered data
	lastErr   error
	err       error // sticky
}

func openHTTP(ctx context.Context, o Options) (Source, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an http or https URL", ErrInvalidOption, u.Redacted())
	}
	if o.ReconnectMin < 0 || o.ReconnectMax < 0 || o.ConnectTimeout < 0 || o.HeaderTimeout < 0 || o.MaxAttempts < 0 {
		return nil, fmt.Errorf("%w: negative reconnect, timeout or attempt setting", ErrInvalidOption)
	}
	defaults := []struct {
		v *time.Duration
		d time.Duration
	}{
		{&o.ReconnectMin, DefaultReconnectMin},
		{&o.ReconnectMax, DefaultReconnectMax},
		{&o.ConnectTimeout, DefaultConnectTimeout},
		{&o.HeaderTimeout, DefaultHeaderTimeout},
		{&o.ReadTimeout, DefaultReadTimeout},
	}
	for _, d := range defaults {
		if *d.v == 0 {
			*d.v = d.d
		}
	}
	if o.ReconnectMax < o.ReconnectMin {
		return nil, fmt.Errorf("%w: reconnect max %v below min %v", ErrInvalidOption, o.ReconnectMax, o.ReconnectMin)
	}
	if o.UserAgent == "" {
		o.UserAgent = "subtitled"
	}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 15 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       o.TLSConfig.Clone(),
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.HeaderTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1,
	}
	s := &httpSource{
		meter:     newMeter(KindHTTP, u.Redacted(), o),
		o:         o,
		url:       o.URL,
		client:    &http.Client{Transport: tr},
		transport: tr,
	}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	context.AfterFunc(s.ctx, s.release)
	return s, nil
}

// Read returns the bytes of the current response, connecting first (and
// again after any end of a response, EOF included) as needed.
func (s *httpSource) Read(p []byte) (int, error) {
	if len(p) == 0 && s.err == nil && s.ctx.Err() == nil {
		return 0, nil
	}
	for {
		if s.err != nil {
			return 0, s.err
		}
		if s.ctx.Err() != nil {
			s.closeBody()
			return 0, closedErr(s.ctx)
		}
		s.mu.Lock()
		body := s.body
		s.reading = body != nil
		s.mu.Unlock()
		if body == nil {
			if err := s.connect(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := body.Read(p)
		s.mu.Lock()
		s.reading = false
		s.mu.Unlock()
		if n > 0 {
			s.meter.data(n)
			if !s.gotData {
				s.gotData, s.failures = true, 0
			}
			s.mu.Lock()
			if s.idle != nil {
				s.idle.Reset(s.o.ReadTimeout)
			}
			s.mu.Unlock()
		}
		if err != nil {
			s.lost(err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// connect makes connection attempts, waiting the backoff before each but
// the first ever, until one gets a 2xx response, the error is permanent,
// Options.MaxAttempts is reached, or the source is closed.
func (s *httpSource) connect() error {
	for {
		if s.o.MaxAttempts > 0 && s.failures >= s.o.MaxAttempts {
			return s.fail(fmt.Errorf("%w after %d attempts: %w", ErrGaveUp, s.failures, s.lastErr))
		}
		if s.attempts > 0 {
			wait := s.backoff()
			if err := s.o.Clock.SleepUntil(s.ctx, s.o.Clock.Now().Add(wait)); err != nil {
				return closedErr(s.ctx)
			}
			s.meter.countReconnect()
		}
		s.attempts++
		err := s.get()
		if err == nil {
			return nil
		}
		if s.ctx.Err() != nil {
			return closedErr(s.ctx)
		}
		s.failures++
		s.lastErr = err
		s.meter.noteError(err)
		if permanent(err) {
			return s.fail(err)
		}
	}
}

// backoff is the wait before the next attempt: ReconnectMin doubled for
// each consecutive failure, capped at ReconnectMax, then drawn at random
// from its upper half.
func (s *httpSource) backoff() time.Duration {
	d := s.o.ReconnectMin
	for i := 0; i < s.failures && d < s.o.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, s.o.ReconnectMax)
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
	return d
}

// get sends the request and keeps the response body.
func (s *httpSource) get() error {
	ctx, cancel := context.WithCancel(s.ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		cancel()
		return err
	}
	req.Header.Set("User-Agent", s.o.UserAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		cancel()
		return fmt.Errorf("source: GET %s: %w", s.meter.addr, err)
	}
	if resp.StatusCode/100 != 2 {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		cancel()
		return &StatusError{URL: s.meter.addr, Code: resp.StatusCode, Status: resp.Status}
	}
	s.idleFired.Store(false)
	var idle *time.Timer
	if s.o.ReadTimeout > 0 {
		idle = time.AfterFunc(s.o.ReadTimeout, func() {
			s.idleFired.Store(true)
			cancel()
		})
	}
	s.mu.Lock()
	s.body, s.connCancel, s.idle, s.gotData = resp.Body, cancel, idle, false
	s.mu.Unlock()
	return nil
}

// lost ends the current response after its body returned err.
func (s *httpSource) lost(err error) {
	s.closeBody()
	if s.ctx.Err() != nil {
		return
	}
	switch {
	case s.idleFired.Load():
		err = fmt.Errorf("source: %s: no data for %v, reconnecting", s.meter.addr, s.o.ReadTimeout)
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("source: %s: the server ended the stream, reconnecting", s.meter.addr)
	default:
		err = fmt.Errorf("source: %s: connection lost, reconnecting: %w", s.meter.addr, err)
	}
	if !s.gotData {
		s.failures++
	}
	s.lastErr = err
	s.meter.setState(StateConnecting, err)
}

// closeBody releases the current response.
func (s *httpSource) closeBody() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeBodyLocked()
}

func (s *httpSource) closeBodyLocked() {
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	if s.body != nil {
		s.body.Close()
		s.connCancel()
		s.body, s.connCancel = nil, nil
	}
}

// fail makes err the sticky error of a failed source.
func (s *httpSource) fail(err error) error {
	s.err = err
	s.meter.setState(StateFailed, err)
	return err
}

// permanent reports errors that another attempt will not cure: a 4xx status
// other than 408, 425 and 429, and a certificate the client rejects.
func permanent(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		c := se.Code
		return c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooEarly && c != http.StatusTooManyRequests
	}
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// Close cancels the request in flight, which unblocks Read, and closes the
// connections.
func (s *httpSource) Close() error {
	s.once.Do(func() {
		s.cancel(ErrClosed)
		s.release()
	})
	return nil
}

// release marks the source closed and frees the response unless a Read
// holds it (that Read frees it when the cancelled request returns).
func (s *httpSource) release() {
	s.meter.setState(StateClosed, nil)
	s.mu.Lock()
	if !s.reading {
		s.closeBodyLocked()
	}
	s.mu.Unlock()
	s.transport.CloseIdleConnections()
}

// Stats returns the state and counters.
func (s *httpSource) Stats() Stats { return s.meter.stats() }

// StatusError is a non-2xx HTTP response. It wraps ErrHTTPStatus.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

// Error names the URL and the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%v: GET %s: %s", ErrHTTPStatus, e.URL, e.Status)
}

// Unwrap returns ErrHTTPStatus.
func (e *StatusError) Unwrap() error { return ErrHTTPStatus }
