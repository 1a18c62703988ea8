package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Source is an open transport. Read is for one goroutine at a time; Close
// and Stats may be called from any goroutine, at any time.
type Source interface {
	// Read reads TS bytes. It blocks until some arrive, the input ends
	// (io.EOF), the source fails (its error, sticky), or the source is closed
	// (an error wrapping ErrClosed).
	Read(p []byte) (int, error)
	// Close stops the source, unblocks a pending Read and releases the
	// socket, file or connection. It is idempotent.
	Close() error
	// Stats returns the current state and counters.
	Stats() Stats
}

// Kind is the transport of a source.
type Kind string

// Transports.
const (
	KindFile  Kind = "file"
	KindStdin Kind = "stdin"
	KindUDP   Kind = "udp"
	KindHTTP  Kind = "http" // http and https
)

// State is the health of a source.
type State string

// States.
const (
	// StateConnecting: opened (or reconnecting), no byte yet.
	StateConnecting State = "connecting"
	// StateLive: bytes arrive.
	StateLive State = "live"
	// StateStalled: live before, but no byte for Options.StallTimeout.
	StateStalled State = "stalled"
	// StateFailed: an unrecoverable error; Stats.LastError says which.
	StateFailed State = "failed"
	// StateClosed: Close was called, the Open context ended, or a finite
	// input reached its end.
	StateClosed State = "closed"
)

// Stats is a snapshot of a source's state and counters.
type Stats struct {
	Kind  Kind
	State State
	// Addr is what the source reads: the file path, "stdin", the local UDP
	// address it is bound to, or the URL without its password.
	Addr string
	// BytesIn counts the TS bytes received: delivered by Read for file,
	// stdin and http; taken off the socket (after any RTP header, dropped
	// ones included) for udp.
	BytesIn uint64
	// BitrateBps is the input rate over the last Options.BitrateWindow (or
	// since the first byte, when that is shorter), in bits per second.
	BitrateBps float64
	// LastData is when the last byte arrived (zero before the first).
	LastData time.Time
	// Since is when State last changed (stalled counts from LastData).
	Since time.Time
	// Reconnects counts the HTTP connection attempts after the first one
	// (each retry after a lost connection or a failed attempt).
	Reconnects uint64
	// LastError is the latest error, recovered from or not ("" if none).
	LastError string
	// Loops counts the times a looping file started again from its start.
	Loops uint64
	// Datagrams counts the UDP datagrams received, dropped ones included.
	Datagrams uint64
	// RTPDatagrams counts the datagrams whose RTP header was stripped.
	RTPDatagrams uint64
	// Drops counts the datagrams dropped, oldest first, because the queue
	// was full; DroppedBytes is their TS bytes.
	Drops        uint64
	DroppedBytes uint64
	// RecvBuffer is the UDP socket's receive buffer as the kernel reports it
	// (on Linux twice the size granted, which net.core.rmem_max caps).
	RecvBuffer int
}

// Sentinel errors that callers branch on.
var (
	// ErrClosed is wrapped by the error of a Read after Close or after the
	// Open context ended (then the context's error is wrapped too).
	ErrClosed = errors.New("source: closed")
	// ErrInvalidOption is wrapped by the error of Open for unusable Options.
	ErrInvalidOption = errors.New("source: invalid option")
	// ErrMulticastJoin is wrapped by the error of Open when joining the
	// multicast group fails.
	ErrMulticastJoin = errors.New("source: multicast join failed")
	// ErrHTTPStatus is wrapped by the error of a response whose status is
	// not 2xx. A 4xx status other than 408, 425 and 429 fails the source;
	// any other is retried.
	ErrHTTPStatus = errors.New("source: unexpected HTTP status")
	// ErrGaveUp is wrapped when Options.MaxAttempts consecutive HTTP
	// connection attempts failed.
	ErrGaveUp = errors.New("source: gave up reconnecting")
)

// Defaults used for zero Options fields.
const (
	DefaultStallTimeout   = 5 * time.Second
	DefaultBitrateWindow  = 5 * time.Second
	DefaultNominalBitrate = 4_000_000
	DefaultQueueDatagrams = 1024
	DefaultReconnectMin   = 500 * time.Millisecond
	DefaultReconnectMax   = 10 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultReadTimeout    = 30 * time.Second
)

// Options configures Open. Only the fields of the chosen Kind are used.
type Options struct {
	Kind Kind

	// StallTimeout is how long without a byte marks a live source stalled
	// (default DefaultStallTimeout).
	StallTimeout time.Duration
	// BitrateWindow is the span of Stats.BitrateBps (default
	// DefaultBitrateWindow).
	BitrateWindow time.Duration
	// Clock is the time source for pacing, backoff and stats (default: the
	// system clock). Tests pass a fake one.
	Clock Clock

	// Path is the file of a file source.
	Path string
	// Realtime paces a file: no packet comes out before its time on the
	// stream's clock (see the package doc). Without it the file is read as
	// fast as Read is called.
	Realtime bool
	// Loop starts a file again at its end instead of returning io.EOF.
	// Realtime pacing carries on across the loop without a jump.
	Loop bool
	// NominalBitrate paces a realtime file that has neither PCR nor PTS, in
	// bits per second (default DefaultNominalBitrate, least 1504: a packet a
	// second). Realtime and Loop need a file that can seek.
	NominalBitrate int64

	// Reader is the input of a stdin source (the daemon passes os.Stdin).
	// Close closes it when it is an io.Closer, which unblocks a pending read
	// of a pipe; otherwise the goroutine reading it ends when its Read
	// returns.
	Reader io.Reader

	// Host is the UDP address to bind: a unicast address (invalid or
	// unspecified: all interfaces) or a multicast group to join.
	Host netip.Addr
	// Port is the UDP port (0: an ephemeral one, see Stats.Addr).
	Port uint16
	// SourceAddr makes the multicast join source-specific (SSM).
	SourceAddr netip.Addr
	// Iface is the interface to join the group on ("" lets the kernel
	// choose by its routes).
	Iface string
	// ReadBuffer asks for this socket receive buffer (SO_RCVBUF) in bytes (0:
	// the system default). The kernel may grant less; see Stats.RecvBuffer.
	ReadBuffer int
	// QueueDatagrams bounds the queue between the socket and Read (default
	// DefaultQueueDatagrams; about 1.3 MB of 7-packet datagrams). When it is
	// full the oldest datagram is dropped and counted; the socket is never
	// left unread.
	QueueDatagrams int

	// URL is the http or https URL of an http source.
	URL string
	// ReconnectMin and ReconnectMax bound the backoff between connection
	// attempts (defaults DefaultReconnectMin, DefaultReconnectMax). The
	// delay doubles with each consecutive failure; each wait is drawn at
	// random between half the delay and the delay.
	ReconnectMin, ReconnectMax time.Duration
	// ConnectTimeout bounds the TCP connect and the TLS handshake (default
	// DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the response headers after the
	// request is sent (default DefaultHeaderTimeout).
	HeaderTimeout time.Duration
	// ReadTimeout drops a connection that delivered no byte for this long,
	// and reconnects (default DefaultReadTimeout; negative: never). It runs
	// on the system clock.
	ReadTimeout time.Duration
	// MaxAttempts fails the source after this many consecutive failed
	// connection attempts (0: retry for ever). A connection that delivered
	// data resets the count.
	MaxAttempts int
	// TLSConfig is used for https (nil: the system roots).
	TLSConfig *tls.Config
	// UserAgent is sent with each request (default "subtitled").
	UserAgent string
}

// Open starts a source. ctx bounds its whole life, not only Open: when ctx
// ends the source closes itself. Call Close in any case to release it.
//
// A file is opened and a UDP socket bound (and its group joined) before Open
// returns, so their errors come from Open. An HTTP source connects on the
// first Read.
func Open(ctx context.Context, o Options) (Source, error) {
	if o.StallTimeout < 0 || o.BitrateWindow < 0 {
		return nil, fmt.Errorf("%w: negative stall timeout or bitrate window", ErrInvalidOption)
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.BitrateWindow == 0 {
		o.BitrateWindow = DefaultBitrateWindow
	}
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	switch o.Kind {
	case KindFile:
		return openFile(ctx, o)
	case KindStdin:
		return openReader(ctx, o)
	case KindUDP:
		return openUDP(ctx, o)
	case KindHTTP:
		return openHTTP(ctx, o)
	}
	return nil, fmt.Errorf("%w: unknown kind %q (want file, stdin, udp or http)", ErrInvalidOption, o.Kind)
}

// closedErr is the error Read returns once ctx has ended: ErrClosed, plus the
// context's cause unless Close ended it.
// readGate is the common start of every Read: a sticky error or a closed
// source ends the call, and an empty p reads nothing. ok says to go on.
func readGate(ctx context.Context, sticky error, p []byte) (ok bool, err error) {
	if sticky != nil {
		return false, sticky
	}
	if ctx.Err() != nil {
		return false, closedErr(ctx)
	}
	return len(p) > 0, nil
}

func closedErr(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}
