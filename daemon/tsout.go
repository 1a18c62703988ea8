package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"

	"github.com/subtitled/subtitled/captions/teletext"
	"github.com/subtitled/subtitled/captions/tsmux"
	"github.com/subtitled/subtitled/config"
)

// tsOutput is one `ts` output of a channel: the input TS with a teletext
// PID added, written to a file, sent over UDP or served over HTTP. The
// destination lives as long as the channel; the mux is rebuilt for every
// pipeline run (its PSI state belongs to one input).
type tsOutput struct {
	cfg   config.TSOutput
	dest  io.WriteCloser
	mux   *tsmux.Mux
	errs  atomic.Uint64
	label string
}

// openTSOutput opens the destination of a ts output.
func openTSOutput(d *daemon, ch config.Channel, o config.TSOutput) (*tsOutput, error) {
	dst, err := o.Destination(ch.ID)
	if err != nil {
		return nil, fmt.Errorf("ts output %q: %w", o.URL, err)
	}
	out := &tsOutput{cfg: o, label: o.URL}
	switch dst.Kind {
	case config.DestFile:
		if err := os.MkdirAll(filepath.Dir(dst.Path), 0o755); err != nil {
			return nil, fmt.Errorf("ts output %s: %w", dst.Path, err)
		}
		f, err := os.Create(dst.Path)
		if err != nil {
			return nil, fmt.Errorf("ts output: %w", err)
		}
		out.dest = &bufferedFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	case config.DestUDP:
		u, err := newUDPSink(dst, o)
		if err != nil {
			return nil, fmt.Errorf("ts output %s: %w", o.URL, err)
		}
		out.dest = u
	case config.DestHTTP:
		out.dest = d.tsHTTP.channel(ch.ID)
		out.label = dst.Path
	default:
		return nil, fmt.Errorf("ts output %q: unsupported destination", o.URL)
	}
	return out, nil
}

// start builds the mux for one pipeline run.
func (t *tsOutput) start(ch config.Channel, warn func(error)) error {
	sync, err := tsmux.ParseSync(t.cfg.Sync)
	if err != nil {
		return err
	}
	delay := t.cfg.Delay
	if sync != tsmux.SyncDelay {
		delay = 0 // the config's default delay only applies to sync: delay
	}
	lang := t.cfg.Teletext.Language
	if lang == "" {
		lang = ch.Language
	}
	m, err := tsmux.New(t, tsmux.Options{
		Program:         uint16(ch.Input.Program),
		PID:             uint16(t.cfg.Teletext.PID),
		Teletext:        teletext.Options{Page: int(t.cfg.Teletext.Page), Language: lang},
		HearingImpaired: t.cfg.Teletext.Type == "hearing_impaired",
		Sync:            sync,
		Delay:           delay,
		CueTimes:        tsmux.CueTimesAbsolute,
		OnWarning:       warn,
	})
	if err != nil {
		return fmt.Errorf("ts output %s: %w", t.label, err)
	}
	t.mux = m
	return nil
}

// Write is the mux's sink: errors are counted, never passed back into the
// demultiplexer (one bad destination must not stop the captions).
func (t *tsOutput) Write(p []byte) (int, error) {
	if _, err := t.dest.Write(p); err != nil {
		t.errs.Add(1)
	}
	return len(p), nil
}

// stop flushes the run's mux.
func (t *tsOutput) stop() error {
	if t.mux == nil {
		return nil
	}
	err := t.mux.Close()
	t.mux = nil
	if errors.Is(err, tsmux.ErrNoPMT) || errors.Is(err, tsmux.ErrNoPCR) {
		return err
	}
	return nil
}

func (t *tsOutput) close() error { return t.dest.Close() }

// bufferedFile is a file written through a buffer, flushed on Close.
type bufferedFile struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

func (b *bufferedFile) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *bufferedFile) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.w.Flush()
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// udpSink sends TS packets in datagrams of packets_per_datagram packets.
type udpSink struct {
	mu   sync.Mutex
	conn *net.UDPConn
	buf  []byte
	per  int
}

func newUDPSink(dst config.Destination, o config.TSOutput) (*udpSink, error) {
	raddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst.Host, dst.Port))
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	if dst.Multicast && dst.Host.Is4() {
		if o.TTL > 0 {
			if err := ipv4.NewPacketConn(conn).SetMulticastTTL(o.TTL); err != nil {
				conn.Close()
				return nil, fmt.Errorf("multicast TTL %d: %w", o.TTL, err)
			}
		}
		if o.Iface != "" {
			ifi, err := net.InterfaceByName(o.Iface)
			if err != nil {
				conn.Close()
				return nil, fmt.Errorf("interface %q: %w", o.Iface, err)
			}
			if err := ipv4.NewPacketConn(conn).SetMulticastInterface(ifi); err != nil {
				conn.Close()
				return nil, fmt.Errorf("multicast interface %q: %w", o.Iface, err)
			}
		}
	}
	per := o.PacketsPerDatagram
	if per <= 0 || per > 7 {
		per = 7
	}
	return &udpSink{conn: conn, per: per, buf: make([]byte, 0, per*188)}, nil
}

func (u *udpSink) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	total := len(p)
	var err error
	for len(p) > 0 {
		n := min(len(p), cap(u.buf)-len(u.buf))
		u.buf = append(u.buf, p[:n]...)
		p = p[n:]
		if len(u.buf) == cap(u.buf) {
			if _, werr := u.conn.Write(u.buf); werr != nil && err == nil {
				err = werr
			}
			u.buf = u.buf[:0]
		}
	}
	return total, err
}

func (u *udpSink) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.buf) > 0 {
		_, _ = u.conn.Write(u.buf)
		u.buf = u.buf[:0]
	}
	return u.conn.Close()
}

// tsHTTP serves each channel's output TS at /v1/channels/{id}/ts to any
// number of HTTP clients, each with a bounded queue; a client that falls
// behind is disconnected rather than slowing the others.
type tsHTTP struct {
	mu       sync.Mutex
	channels map[string]*tsBroadcast
}

func newTSHTTP() *tsHTTP { return &tsHTTP{channels: map[string]*tsBroadcast{}} }

func (h *tsHTTP) channel(id string) *tsBroadcast {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.channels[id]
	if b == nil {
		b = &tsBroadcast{clients: map[chan []byte]struct{}{}}
		h.channels[id] = b
	}
	return b
}

func (h *tsHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	b := h.channels[r.PathValue("id")]
	h.mu.Unlock()
	if b == nil {
		http.Error(w, "no TS output over HTTP for this channel", http.StatusNotFound)
		return
	}
	b.serve(r.Context(), w)
}

// tsBroadcast fans one channel's TS out to HTTP clients.
type tsBroadcast struct {
	mu      sync.Mutex
	clients map[chan []byte]struct{}
	buf     []byte
}

const tsHTTPQueue = 256 // chunks of up to 64 KiB per client

func (b *tsBroadcast) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) < 188*64 {
		return len(p), nil
	}
	chunk := b.buf
	b.buf = nil
	for c := range b.clients {
		select {
		case c <- chunk:
		default: // too slow: drop the client
			delete(b.clients, c)
			close(c)
		}
	}
	return len(p), nil
}

func (b *tsBroadcast) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.clients {
		delete(b.clients, c)
		close(c)
	}
	return nil
}

func (b *tsBroadcast) serve(ctx context.Context, w http.ResponseWriter) {
	c := make(chan []byte, tsHTTPQueue)
	b.mu.Lock()
	b.clients[c] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		if _, ok := b.clients[c]; ok {
			delete(b.clients, c)
			close(c)
		}
		b.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "video/mp2t")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush() // headers now: the first TS chunk may take a while
	}
	for {
		select {
		case <-ctx.Done():
			return
		case chunk, ok := <-c:
			if !ok {
				return
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}
