// Package hub fans caption cues out to WebSocket clients: the live feed at
// GET /v1/channels/{id}/captions (protocol v1, docs/PROTOCOL.md).
//
// A Hub holds channels; each channel publishes final cues, partials, gaps and
// end-of-stream per track (verbatim, subtitle). Every track keeps a ring of
// its newest final cues so that a client reconnecting with ?since=N gets the
// cues it missed before the live ones, with no cue lost or sent twice.
//
// Each client has one writer goroutine and one reader goroutine (the HTTP
// handler's own) and a bounded send queue. Partials are coalesced (only the
// newest waits to be sent); finals are never dropped silently: a client whose
// queue overflows is closed with 1013 (Try Again Later) and counted. The
// publisher never blocks on a client.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/subtitled/subtitled/decoder"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultMaxClients      = 10000
	DefaultMaxClientsPerIP = 100
	DefaultReadLimit       = 4 << 10
	DefaultPingInterval    = 20 * time.Second
	DefaultPongTimeout     = 60 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultRetryAfter      = 5 * time.Second
	DefaultRingSize        = 1000
	DefaultQueue           = 256
)

// Pattern is the ServeMux pattern of the caption feed. Mount the hub on it
// without a method, so that the hub answers (and counts) other methods.
const Pattern = "/v1/channels/{id}/captions"

// Sentinel errors returned by the publish methods.
var (
	// ErrUnknownTrack: the channel does not offer the cue's track.
	ErrUnknownTrack = errors.New("hub: track not offered by channel")
	// ErrNotMonotonic: the cue id is not above the track's last id.
	ErrNotMonotonic = errors.New("hub: cue id not above the last one")
	// ErrClosed: the channel was removed or the hub closed.
	ErrClosed = errors.New("hub: channel removed or hub closed")
)

// Options configures a Hub. Zero fields get the Default* values.
type Options struct {
	// AllowedOrigins lists the Origin header values accepted on upgrade,
	// compared case-insensitively as scheme://host[:port]. Empty: only
	// same-origin requests (Origin host equals the request Host). "*"
	// accepts every origin. Requests without an Origin header (non-browser
	// clients) are always accepted; use Token to restrict those.
	AllowedOrigins []string
	// Token, when set, must be presented as "Authorization: Bearer TOKEN"
	// or as ?token=TOKEN (for browsers, which cannot set headers).
	Token string
	// MaxClients caps connections over all channels; MaxClientsPerIP caps
	// them per remote IP. Beyond either: 503 with Retry-After. Negative
	// means no cap.
	MaxClients      int
	MaxClientsPerIP int
	// ReadLimit is the largest message accepted from a client; a larger one
	// closes the connection with 1009.
	ReadLimit int64
	// PingInterval is how often the server pings; a client that sends
	// nothing (no pong) for PongTimeout is closed. PongTimeout is raised to
	// twice PingInterval when it is not longer than PingInterval.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds each write to a client (and, up to 2 s, the wait
	// for the client's reply to a close frame).
	WriteTimeout time.Duration
	// RetryAfter is the Retry-After of 503 answers.
	RetryAfter time.Duration
	// Channel is the configuration of channels created by Hub.Channel.
	Channel ChannelOptions
	// Clock stamps server_time and the emitted time of partials and gaps.
	// Nil means time.Now.
	Clock func() time.Time
	// Logger receives connection events at debug level and slow-client
	// disconnects at info level. Nil discards.
	Logger *slog.Logger
}

// ChannelOptions configures one channel. Zero fields get the defaults.
type ChannelOptions struct {
	// Tracks offered to clients; the first is the one a request without
	// ?track= gets. Default: verbatim, subtitle.
	Tracks []string
	// RingSize is how many final cues per track are kept for resume
	// (default 1000).
	RingSize int
	// MaxClients caps this channel's clients (0: only the hub's caps).
	MaxClients int
	// Queue is each client's send queue in messages (default 256, at
	// least 2). Replayed cues do not count against it.
	Queue int
}

func (o ChannelOptions) withDefaults() ChannelOptions {
	if len(o.Tracks) == 0 {
		o.Tracks = []string{decoder.TrackVerbatim, decoder.TrackSubtitle}
	}
	if o.RingSize <= 0 {
		o.RingSize = DefaultRingSize
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	o.Queue = max(o.Queue, 2)
	return o
}

func (o Options) withDefaults() Options {
	if o.MaxClients == 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.MaxClientsPerIP == 0 {
		o.MaxClientsPerIP = DefaultMaxClientsPerIP
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	if o.PongTimeout <= o.PingInterval {
		o.PongTimeout = 2 * o.PingInterval
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Channel = o.Channel.withDefaults()
	return o
}

// RejectReason names why an upgrade request was refused.
type RejectReason string

// Rejection reasons, with the HTTP status each gets.
const (
	RejectOrigin       RejectReason = "origin"        // 403
	RejectToken        RejectReason = "token"         // 401
	RejectChannel      RejectReason = "channel"       // 404
	RejectQuery        RejectReason = "query"         // 400: malformed query string
	RejectTrack        RejectReason = "track"         // 400
	RejectSince        RejectReason = "since"         // 400
	RejectMethod       RejectReason = "method"        // 405: not GET
	RejectHandshake    RejectReason = "handshake"     // 400/405: not a valid WebSocket upgrade
	RejectFull         RejectReason = "full"          // 503: MaxClients reached
	RejectIPFull       RejectReason = "ip_full"       // 503: MaxClientsPerIP reached
	RejectChannelFull  RejectReason = "channel_full"  // 503: the channel's MaxClients reached
	RejectShuttingDown RejectReason = "shutting_down" // 503: Close was called
)

var rejectReasons = []RejectReason{
	RejectOrigin, RejectToken, RejectChannel, RejectQuery, RejectTrack, RejectSince,
	RejectMethod, RejectHandshake, RejectFull, RejectIPFull, RejectChannelFull, RejectShuttingDown,
}

// counters are the cumulative event counts of a hub or a channel.
type counters struct {
	accepted, deliveries, cues, partialsCoalesced, slow, protocolErrors,
	oversize, pongTimeouts, writeTimeouts, resumeGaps atomic.Uint64
}

// Stats is a snapshot of a hub's counters, for metrics.
type Stats struct {
	// Channels and Clients are current counts.
	Channels int
	Clients  int
	// The rest are cumulative since New (channels removed included).
	Accepted              uint64 // connections upgraded
	Deliveries            uint64 // messages written to clients
	Cues                  uint64 // final cues published
	PartialsCoalesced     uint64 // partials replaced before a client got them (the only drops)
	SlowClientDisconnects uint64 // clients closed with 1013
	ProtocolErrors        uint64 // clients closed with 1002 (malformed frames)
	OversizeMessages      uint64 // clients closed with 1009
	PongTimeouts          uint64 // clients closed for not answering pings
	WriteTimeouts         uint64 // clients closed because a write took longer than WriteTimeout
	ResumeGaps            uint64 // gap messages sent because since= was older than the ring
	// Rejected counts refused upgrade requests by reason (every reason is
	// present, zero or not).
	Rejected map[RejectReason]uint64
	// PerChannel holds the channels present now.
	PerChannel map[string]ChannelStats
}

// ChannelStats is a snapshot of one channel's counters.
type ChannelStats struct {
	Clients               int
	Deliveries            uint64
	Cues                  uint64
	PartialsCoalesced     uint64
	SlowClientDisconnects uint64
	// LastID is the newest cue id per offered track (0: none yet).
	LastID map[string]uint64
}

// Hub serves the caption feeds of its channels. Create it with New.
type Hub struct {
	opts     Options
	upgrader websocket.Upgrader
	mux      *http.ServeMux
	cnt      counters
	rejected map[RejectReason]*atomic.Uint64

	mu       sync.Mutex
	channels map[string]*Channel
	clients  map[*client]struct{}
	perIP    map[string]int
	closed   bool
	isClosed atomic.Bool    // closed, readable without mu
	wg       sync.WaitGroup // one per admitted connection's handler
}

// New returns a Hub with no channels.
func New(o Options) *Hub {
	h := &Hub{
		opts:     o.withDefaults(),
		mux:      http.NewServeMux(),
		rejected: make(map[RejectReason]*atomic.Uint64, len(rejectReasons)),
		channels: make(map[string]*Channel),
		clients:  make(map[*client]struct{}),
		perIP:    make(map[string]int),
	}
	for _, r := range rejectReasons {
		h.rejected[r] = new(atomic.Uint64)
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: h.opts.WriteTimeout,
		// Buffer sizes 0: gorilla reuses the buffers net/http allocated for
		// the connection, the cheapest choice for mostly idle clients.
		CheckOrigin: h.originAllowed,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			w.Header().Set("Sec-Websocket-Version", "13")
			http.Error(w, reason.Error(), status)
		},
	}
	h.mux.HandleFunc("GET "+Pattern, h.serveCaptions)
	h.mux.HandleFunc(Pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET")
		h.reject(w, r, http.StatusMethodNotAllowed, RejectMethod, "method "+r.Method+" not allowed")
	})
	return h
}

// ServeHTTP serves GET /v1/channels/{id}/captions; other methods get 405,
// other paths 404. Mount it on the daemon's mux under Pattern.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Handler returns h as an http.Handler.
func (h *Hub) Handler() http.Handler { return h }

// Channel returns the channel id, creating it with Options.Channel when it
// does not exist.
func (h *Hub) Channel(id string) *Channel {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch := h.channels[id]; ch != nil {
		return ch
	}
	ch := newChannel(h, id, h.opts.Channel)
	h.channels[id] = ch
	return ch
}

// ChannelWith returns the channel id configured with o (defaults applied),
// creating it when it does not exist. For an existing channel, the new
// options take effect without dropping connected clients or cue ids: the
// ring is resized keeping its newest cues, Queue and MaxClients apply to
// new connections, new tracks are added, and the clients of tracks no
// longer offered get eos and close 1001. Unknown track names are an error.
func (h *Hub) ChannelWith(id string, o ChannelOptions) (*Channel, error) {
	o = o.withDefaults()
	for _, t := range o.Tracks {
		if t != decoder.TrackVerbatim && t != decoder.TrackSubtitle {
			return nil, fmt.Errorf("hub: channel %q: track %q: %w", id, t, ErrUnknownTrack)
		}
	}
	h.mu.Lock()
	ch := h.channels[id]
	if ch == nil {
		ch = newChannel(h, id, o)
		h.channels[id] = ch
		h.mu.Unlock()
		return ch, nil
	}
	h.mu.Unlock()
	ch.reconfigure(o)
	return ch, nil
}

// RemoveChannel removes channel id: its clients get an eos message, then
// close 1001 once their queues are written. New requests for it get 404.
// Publishing on a removed channel returns ErrClosed.
func (h *Hub) RemoveChannel(id string) {
	h.mu.Lock()
	ch := h.channels[id]
	delete(h.channels, id)
	h.mu.Unlock()
	if ch != nil {
		ch.remove("channel removed")
	}
}

func (h *Hub) lookup(id string) *Channel {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.channels[id]
}

// Close stops accepting connections (503), sends every client close 1001
// after its queued messages, and waits for all client goroutines. When ctx
// ends first, the remaining connections are cut and Close returns ctx's
// error after their goroutines exit.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.isClosed.Store(true)
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.closeAfterDrain(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range clients {
			c.cut()
		}
		<-done
		return fmt.Errorf("hub: close: %w", ctx.Err())
	}
}

// Stats returns a snapshot of the counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	s := Stats{
		Channels:   len(h.channels),
		Clients:    len(h.clients),
		PerChannel: make(map[string]ChannelStats, len(h.channels)),
	}
	chans := make([]*Channel, 0, len(h.channels))
	for _, ch := range h.channels {
		chans = append(chans, ch)
	}
	h.mu.Unlock()
	for _, ch := range chans {
		s.PerChannel[ch.id] = ch.Stats()
	}
	s.Accepted = h.cnt.accepted.Load()
	s.Deliveries = h.cnt.deliveries.Load()
	s.Cues = h.cnt.cues.Load()
	s.PartialsCoalesced = h.cnt.partialsCoalesced.Load()
	s.SlowClientDisconnects = h.cnt.slow.Load()
	s.ProtocolErrors = h.cnt.protocolErrors.Load()
	s.OversizeMessages = h.cnt.oversize.Load()
	s.PongTimeouts = h.cnt.pongTimeouts.Load()
	s.WriteTimeouts = h.cnt.writeTimeouts.Load()
	s.ResumeGaps = h.cnt.resumeGaps.Load()
	s.Rejected = make(map[RejectReason]uint64, len(h.rejected))
	for r, n := range h.rejected {
		s.Rejected[r] = n.Load()
	}
	return s
}

// reject answers an upgrade request with status and counts reason.
func (h *Hub) reject(w http.ResponseWriter, r *http.Request, status int, reason RejectReason, msg string) {
	h.rejected[reason].Add(1)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="subtitled"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int((h.opts.RetryAfter+time.Second-1)/time.Second)))
	}
	h.opts.Logger.Debug("websocket rejected", "remote", r.RemoteAddr, "path", r.URL.Path,
		"status", status, "reason", string(reason))
	http.Error(w, "subtitled: "+msg, status)
}

// admit reserves a connection slot for ip on ch, or returns the reason it
// cannot. On success the caller owns one h.wg count and must call release.
func (h *Hub) admit(c *client) (RejectReason, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return RejectShuttingDown, false
	case h.opts.MaxClients > 0 && len(h.clients) >= h.opts.MaxClients:
		return RejectFull, false
	case h.opts.MaxClientsPerIP > 0 && h.perIP[c.ip] >= h.opts.MaxClientsPerIP:
		return RejectIPFull, false
	case c.ch.maxClients.Load() > 0 && int64(c.ch.nclients) >= c.ch.maxClients.Load():
		return RejectChannelFull, false
	}
	h.clients[c] = struct{}{}
	h.perIP[c.ip]++
	c.ch.nclients++
	h.wg.Add(1)
	return "", true
}

// release undoes admit.
func (h *Hub) release(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	if h.perIP[c.ip]--; h.perIP[c.ip] <= 0 {
		delete(h.perIP, c.ip)
	}
	c.ch.nclients--
	h.mu.Unlock()
	h.wg.Done()
}

// remoteIP is the host part of r.RemoteAddr. Proxies' forwarding headers
// are not trusted.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
