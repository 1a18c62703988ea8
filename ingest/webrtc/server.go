package webrtc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pwebrtc "github.com/pion/webrtc/v4"
)

// PathPrefix is where the daemon mounts the server.
const PathPrefix = "/v1/whip/"

// Media types of the WHIP requests.
const (
	ContentTypeSDP     = "application/sdp"
	ContentTypeSDPFrag = "application/trickle-ice-sdpfrag"
)

// retryAfter is the Retry-After (seconds) of a 503.
const retryAfter = "5"

// Rejection reasons counted in Stats.Rejected.
const (
	RejectAuth           = "auth"
	RejectContentType    = "content_type"
	RejectBadOffer       = "bad_offer"
	RejectNoAudio        = "no_audio"
	RejectVideo          = "video"
	RejectBusy           = "busy"
	RejectFull           = "full"
	RejectTooLarge       = "too_large"
	RejectUnknownChannel = "unknown_channel"
	RejectUnknownSession = "unknown_session"
	RejectPrecondition   = "precondition" // PATCH with a stale If-Match
	RejectICERestart     = "ice_restart"  // PATCH asking for an ICE restart
	RejectBadCandidate   = "bad_candidate"
	RejectClosed         = "closed" // the server is shutting down
)

// Reasons in SessionEvent.Reason when a session ends.
const (
	ReasonDeleted      = "deleted"       // DELETE from the publisher
	ReasonReplaced     = "replaced"      // a new publisher took the channel (AllowReplace)
	ReasonRemoved      = "removed"       // RemovePublisher
	ReasonServerClosed = "server_closed" // Server.Close
	ReasonSetupTimeout = "setup_timeout" // not connected within SetupTimeout (reaped)
	ReasonFailed       = "failed"        // the peer connection failed (ICE or DTLS)
	ReasonClosed       = "closed"        // the peer closed the connection
	ReasonSetupFailed  = "setup_failed"  // the answer could not be made
)

// Publisher is one channel's publishing settings.
type Publisher struct {
	Token        string // required bearer token (constant-time compare); empty refuses everyone
	AllowReplace bool   // a new publisher replaces the active one (else 409 Conflict)
	RejectVideo  bool   // an offer with a video m-line → 400; otherwise video is ignored (not received)
	// OnPacket gets the audio packets in order. It is called from the
	// session's goroutine and must not block long, nor call back into the
	// Server.
	OnPacket func(Packet)
	// OnSession (optional) is told when a publisher is accepted (Started,
	// before the 201 is sent) and when its session ends (exactly once per
	// accepted session, after its last OnPacket). Same rules as OnPacket.
	OnSession func(SessionEvent)
}

// Packet is one Opus packet from a publisher.
type Packet struct {
	Channel, Session string
	Data             []byte // one Opus packet; the receiver owns it
	// PTS is the 90 kHz media time: the unwrapped RTP timestamp scaled to
	// 90 kHz, mapped onto a per-channel wall-clock timeline so that it is
	// continuous and monotonic per channel across sessions.
	PTS int64
	// Discontinuity marks the first packet of a session, after an SSRC
	// change or timestamp jump, or after lost packets.
	Discontinuity bool
	Channels      int // 1 or 2, from the offer's Opus fmtp (sprop-stereo)
	Arrived       time.Time
}

// SessionEvent tells that a publisher started or ended.
type SessionEvent struct {
	Channel, Session string
	Started          bool
	Reason           string // why it ended (Reason* constants); empty when Started
	Remote           string // the publisher's HTTP remote address
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Sessions int                     // active
	Rejected map[string]uint64       // by reason (Reject* constants)
	Reaped   uint64                  // closed by SetupTimeout
	Channels map[string]ChannelStats // per channel with a publisher configured
}

// ChannelStats are one channel's counters; the packet counters are totals
// over all its sessions.
type ChannelStats struct {
	Active          bool
	Connected       bool // the active session's peer connection reached "connected"
	Session         string
	Since           time.Time
	Remote          string
	Packets, Bytes  uint64 // handed to OnPacket
	Lost            uint64 // sequence numbers given up by the reorder buffer
	Reordered       uint64
	Duplicates      uint64
	Late            uint64 // arrived after their gap was given up (dropped)
	Discontinuities uint64
	Sessions        uint64 // total sessions accepted
}

// Server is a WHIP (RFC 9725) endpoint. It is an http.Handler for
// PathPrefix: POST /v1/whip/{channel} creates a session,
// /v1/whip/{channel}/{session} takes DELETE and PATCH.
type Server struct {
	cfg       Config
	api       *pwebrtc.API
	log       *slog.Logger
	anyOrigin bool
	origins   map[string]bool
	links     []string // Link headers for the STUN servers

	wg sync.WaitGroup // session supervisors

	mu       sync.Mutex
	closed   bool
	channels map[string]*channel
	sessions map[string]*session
	rejected map[string]uint64
	reaped   uint64
}

type channel struct {
	name     string
	pub      atomic.Pointer[Publisher]
	counters channelCounters
	// tl is used only by the channel's active session; sessions of one
	// channel never overlap.
	tl      timeline
	session *session // guarded by Server.mu
}

// NewServer validates cfg and returns a server with no channels.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	api, err := newAPI(&c)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      c,
		api:      api,
		log:      c.Logger.With("component", "whip"),
		origins:  make(map[string]bool),
		channels: make(map[string]*channel),
		sessions: make(map[string]*session),
		rejected: make(map[string]uint64),
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			s.anyOrigin = true
		}
		s.origins[strings.TrimSuffix(o, "/")] = true
	}
	for _, u := range c.ICE.STUNServers {
		s.links = append(s.links, "<"+u+`>; rel="ice-server"`)
	}
	return s, nil
}

// SetPublisher adds a channel or updates its settings (reload). An active
// session is kept and uses the new settings from its next packet on.
func (s *Server) SetPublisher(name string, p Publisher) {
	if p.Token == "" {
		s.log.Warn("WHIP channel has no bearer token; every request will be refused", "channel", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[name]
	if ch == nil {
		ch = &channel{name: name}
		s.channels[name] = ch
	}
	ch.pub.Store(&p)
}

// RemovePublisher removes a channel and ends its session; it returns once
// the session is gone. It must not be called from OnPacket or OnSession.
func (s *Server) RemovePublisher(name string) {
	s.mu.Lock()
	ch := s.channels[name]
	delete(s.channels, name)
	var sess *session
	if ch != nil {
		sess = ch.session
	}
	s.mu.Unlock()
	if sess != nil {
		sess.end(ReasonRemoved)
		<-sess.done
	}
}

// Close ends every session and waits until all their goroutines are gone.
// Later POSTs get 503.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	all := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	for _, sess := range all {
		sess.end(ReasonServerClosed)
	}
	s.wg.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Sessions: len(s.sessions),
		Rejected: make(map[string]uint64, len(s.rejected)),
		Reaped:   s.reaped,
		Channels: make(map[string]ChannelStats, len(s.channels)),
	}
	for k, v := range s.rejected {
		st.Rejected[k] = v
	}
	for name, ch := range s.channels {
		c := &ch.counters
		cs := ChannelStats{
			Packets:         c.packets.Load(),
			Bytes:           c.bytes.Load(),
			Lost:            c.lost.Load(),
			Reordered:       c.reordered.Load(),
			Duplicates:      c.duplicates.Load(),
			Late:            c.late.Load(),
			Discontinuities: c.discont.Load(),
			Sessions:        c.sessions.Load(),
		}
		if sess := ch.session; sess != nil && sess.ready.Load() {
			cs.Active = true
			cs.Connected = sess.isConnected()
			cs.Session = sess.id
			cs.Since = sess.since
			cs.Remote = sess.remote
		}
		st.Channels[name] = cs
	}
	return st
}

// ServeHTTP implements http.Handler for PathPrefix (the prefix may also have
// been stripped already).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok {
		rest = strings.TrimPrefix(r.URL.Path, "/")
	}
	parts := strings.Split(rest, "/")
	s.cors(w, r)
	switch {
	case len(parts) == 1 && parts[0] != "":
		s.serveEndpoint(w, r, parts[0])
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		s.serveSession(w, r, parts[0], parts[1])
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (s *Server) serveEndpoint(w http.ResponseWriter, r *http.Request, name string) {
	switch r.Method {
	case http.MethodOptions:
		h := w.Header()
		h.Set("Accept-Post", ContentTypeSDP)
		s.preflight(w, r)
		for _, l := range s.links {
			h.Add("Link", l)
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		s.handlePost(w, r, name)
	default:
		w.Header().Set("Allow", "OPTIONS, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, name, id string) {
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Accept-Patch", ContentTypeSDPFrag)
		s.preflight(w, r)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.handleDelete(w, r, name, id)
	case http.MethodPatch:
		s.handlePatch(w, r, name, id)
	default:
		w.Header().Set("Allow", "DELETE, OPTIONS, PATCH")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// cors adds the CORS response headers when the request's Origin is allowed.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !(s.anyOrigin || s.origins[origin]) {
		return false
	}
	h := w.Header()
	if s.anyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Patch, Accept-Post, Link")
	return true
}

// preflight adds the CORS preflight headers (the Origin was checked by cors).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if h.Get("Access-Control-Allow-Origin") == "" {
		return
	}
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Max-Age", "600")
}

func (s *Server) reject(w http.ResponseWriter, reason string, code int, msg string) {
	s.mu.Lock()
	s.rejected[reason]++
	s.mu.Unlock()
	http.Error(w, oneLine(msg), code)
}

func (s *Server) channel(name string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[name]
}

// authorize checks the bearer token against p and writes the 401 itself.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, p *Publisher) bool {
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(strings.TrimSpace(auth), " ")
	token = strings.TrimSpace(token)
	if auth == "" || !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		s.reject(w, RejectAuth, http.StatusUnauthorized, "bearer token required")
		return false
	}
	if p.Token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(p.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip", error="invalid_token"`)
		s.reject(w, RejectAuth, http.StatusUnauthorized, "invalid bearer token")
		return false
	}
	return true
}

func hasContentType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, want)
}

// readBody reads at most MaxBodyBytes; it writes the 413 itself.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := s.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		s.reject(w, RejectTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body larger than %d bytes", limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.reject(w, RejectTooLarge, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("body larger than %d bytes", limit))
			return nil, false
		}
		http.Error(w, "reading body: "+oneLine(err.Error()), http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request, name string) {
	ch := s.channel(name)
	if ch == nil {
		s.reject(w, RejectUnknownChannel, http.StatusNotFound, "unknown channel")
		return
	}
	pub := ch.pub.Load()
	if !s.authorize(w, r, pub) {
		return
	}
	if !hasContentType(r, ContentTypeSDP) {
		w.Header().Set("Accept-Post", ContentTypeSDP)
		s.reject(w, RejectContentType, http.StatusUnsupportedMediaType, "Content-Type must be "+ContentTypeSDP)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	info, err := validateOffer(body, pub.RejectVideo)
	if err != nil {
		reason := RejectBadOffer
		switch {
		case errors.Is(err, ErrVideoRejected):
			reason = RejectVideo
		case errors.Is(err, ErrNoAudio):
			reason = RejectNoAudio
		}
		s.reject(w, reason, http.StatusBadRequest, err.Error())
		return
	}

	sess, code, reason := s.reserve(r.Context(), ch, &info, r.RemoteAddr)
	if sess == nil {
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfter)
		}
		msg := map[string]string{
			RejectBusy:           "channel already has a publisher",
			RejectFull:           "too many sessions",
			RejectClosed:         "server is shutting down",
			RejectUnknownChannel: "unknown channel",
		}[reason]
		if msg == "" {
			msg = "session not created: " + reason
		}
		s.reject(w, reason, code, msg)
		return
	}

	answer, err := sess.build(r.Context(), string(body))
	if err != nil {
		sess.fail(err)
		switch {
		case errors.Is(err, errRemoteOffer):
			s.reject(w, RejectBadOffer, http.StatusBadRequest, err.Error())
		case errors.Is(err, errSessionEnded):
			w.Header().Set("Retry-After", retryAfter)
			http.Error(w, "session ended during setup", http.StatusServiceUnavailable)
		default:
			s.log.Warn("WHIP session setup failed", "channel", name, "err", err)
			http.Error(w, "session setup failed", http.StatusInternalServerError)
		}
		return
	}

	h := w.Header()
	h.Set("Content-Type", ContentTypeSDP)
	h.Set("Location", PathPrefix+url.PathEscape(name)+"/"+sess.id)
	h.Set("ETag", sess.etag)
	h.Set("Accept-Patch", ContentTypeSDPFrag)
	for _, l := range s.links {
		h.Add("Link", l)
	}
	h.Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// reserve claims the channel and a server slot for a new session. An active
// publisher is replaced when the channel allows it (waiting until the old
// session is gone, so that sessions of one channel never overlap), else the
// request is refused. A nil session comes with an HTTP status and a reason.
func (s *Server) reserve(ctx context.Context, ch *channel, info *offerInfo, remote string) (*session, int, string) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, http.StatusServiceUnavailable, RejectClosed
		}
		if s.channels[ch.name] != ch {
			s.mu.Unlock()
			return nil, http.StatusNotFound, RejectUnknownChannel
		}
		if old := ch.session; old != nil {
			if old.ctx.Err() == nil && !ch.pub.Load().AllowReplace {
				s.mu.Unlock()
				return nil, http.StatusConflict, RejectBusy
			}
			s.mu.Unlock()
			old.end(ReasonReplaced)
			select {
			case <-old.done:
				continue
			case <-ctx.Done():
				return nil, http.StatusServiceUnavailable, RejectBusy
			}
		}
		if len(s.sessions) >= s.cfg.MaxSessions {
			s.mu.Unlock()
			return nil, http.StatusServiceUnavailable, RejectFull
		}
		sess := newSession(s, ch, info, remote)
		ch.session = sess
		s.sessions[sess.id] = sess
		s.wg.Add(1)
		s.mu.Unlock()
		go sess.supervise()
		return sess, 0, ""
	}
}

// release forgets a finished session.
func (s *Server) release(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess.id)
	if sess.ch.session == sess {
		sess.ch.session = nil
	}
}

// lookup finds an accepted session of a channel.
func (s *Server) lookup(ch *channel, id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	if sess == nil || sess.ch != ch || !sess.ready.Load() {
		return nil
	}
	return sess
}

func (s *Server) countReaped() {
	s.mu.Lock()
	s.reaped++
	s.mu.Unlock()
}

// sessionFor resolves a session URL for DELETE and PATCH: the channel must
// exist (404), the bearer token match (401) and the session be the
// channel's (404). On failure it has answered and returns nil.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request, name, id string) *session {
	ch := s.channel(name)
	if ch == nil {
		s.reject(w, RejectUnknownChannel, http.StatusNotFound, "unknown channel")
		return nil
	}
	if !s.authorize(w, r, ch.pub.Load()) {
		return nil
	}
	sess := s.lookup(ch, id)
	if sess == nil {
		s.reject(w, RejectUnknownSession, http.StatusNotFound, "unknown session")
	}
	return sess
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, name, id string) {
	sess := s.sessionFor(w, r, name, id)
	if sess == nil {
		return
	}
	sess.end(ReasonDeleted)
	select {
	case <-sess.done:
	case <-r.Context().Done():
		return
	}
	w.WriteHeader(http.StatusOK)
}

// maxPatchCandidates bounds the candidates one PATCH may add.
const maxPatchCandidates = 32

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request, name, id string) {
	sess := s.sessionFor(w, r, name, id)
	if sess == nil {
		return
	}
	if !hasContentType(r, ContentTypeSDPFrag) {
		w.Header().Set("Accept-Patch", ContentTypeSDPFrag)
		s.reject(w, RejectContentType, http.StatusUnsupportedMediaType, "Content-Type must be "+ContentTypeSDPFrag)
		return
	}
	match := false
	want := strings.Trim(sess.etag, `"`)
	for _, tag := range strings.Split(r.Header.Get("If-Match"), ",") {
		// Accept * and "*", and tags with or without quotes.
		switch strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`) {
		case "*":
			s.reject(w, RejectICERestart, http.StatusUnprocessableEntity, "ICE restart is not supported")
			return
		case want:
			match = true
		}
	}
	if !match {
		s.reject(w, RejectPrecondition, http.StatusPreconditionFailed, "If-Match does not match the session ETag")
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	cands, err := parseSDPFrag(body)
	if err != nil {
		s.reject(w, RejectBadCandidate, http.StatusBadRequest, err.Error())
		return
	}
	for _, c := range cands {
		if err := sess.pc.AddICECandidate(c); err != nil {
			s.reject(w, RejectBadCandidate, http.StatusBadRequest, "candidate: "+err.Error())
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseSDPFrag extracts the candidates of a trickle-ice-sdpfrag body
// (RFC 8840), each with the mid of the media section it follows.
func parseSDPFrag(body []byte) ([]pwebrtc.ICECandidateInit, error) {
	var out []pwebrtc.ICECandidateInit
	var mid *string
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "a=mid:"):
			m := strings.TrimPrefix(line, "a=mid:")
			mid = &m
		case strings.HasPrefix(line, "a=candidate:"):
			if len(out) == maxPatchCandidates {
				return nil, fmt.Errorf("more than %d candidates", maxPatchCandidates)
			}
			out = append(out, pwebrtc.ICECandidateInit{Candidate: strings.TrimPrefix(line, "a="), SDPMid: mid})
		}
	}
	return out, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
