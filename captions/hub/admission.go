package hub

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Errors of ParseParams; both mean 400.
var (
	ErrBadTrack = errors.New("bad track")
	ErrBadSince = errors.New("bad since")
)

// Params are the query parameters of a caption feed request.
type Params struct {
	// Track is the requested track ("" when absent: the channel's default).
	Track string
	// Since is the first cue id wanted; HasSince is false when absent
	// (live only).
	Since    uint64
	HasSince bool
}

// ParseParams parses the raw query of a caption feed request. track must be
// verbatim or subtitle when present; since a decimal uint64. Repeated or
// empty values are errors (with zero Params). token is ignored here (see
// Options.Token).
func ParseParams(rawQuery string) (Params, error) {
	p, err := parseParams(rawQuery)
	if err != nil {
		return Params{}, err
	}
	return p, nil
}

func parseParams(rawQuery string) (Params, error) {
	var p Params
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return p, fmt.Errorf("malformed query: %w", err)
	}
	if vs, ok := q["track"]; ok {
		if len(vs) != 1 || !knownTrack(vs[0]) {
			return p, fmt.Errorf("%w: want track=verbatim or track=subtitle", ErrBadTrack)
		}
		p.Track = vs[0]
	}
	if vs, ok := q["since"]; ok {
		if len(vs) != 1 {
			return p, fmt.Errorf("%w: given more than once", ErrBadSince)
		}
		n, err := strconv.ParseUint(vs[0], 10, 64)
		if err != nil {
			return p, fmt.Errorf("%w: want a cue id (a non-negative integer), got %q", ErrBadSince, vs[0])
		}
		p.Since, p.HasSince = n, true
	}
	return p, nil
}

// originAllowed applies Options.AllowedOrigins to the request's Origin.
func (h *Hub) originAllowed(r *http.Request) bool {
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		// Not a browser: the origin check cannot protect anything (a
		// non-browser client can send any Origin); the token does.
		return true
	}
	if len(origins) > 1 {
		return false
	}
	origin := origins[0]
	if h.allowsAll() {
		return true
	}
	if len(h.opts.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
	}
	for _, a := range h.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

func (h *Hub) allowsAll() bool {
	for _, a := range h.opts.AllowedOrigins {
		if a == "*" {
			return true
		}
	}
	return false
}

// tokenOK checks the bearer token from the Authorization header or the
// token query parameter.
func (h *Hub) tokenOK(r *http.Request) bool {
	if h.opts.Token == "" {
		return true
	}
	got := ""
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	} else if t := r.URL.Query()["token"]; len(t) == 1 {
		got = t[0]
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) == 1
}

// serveCaptions admits a request, upgrades it and runs the client until it
// goes away. Checks, in order: origin (403), token (401), channel (404),
// query (400), capacity (503), handshake (400).
func (h *Hub) serveCaptions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.originAllowed(r) {
		h.reject(w, r, http.StatusForbidden, RejectOrigin, "origin not allowed")
		return
	}
	if !h.tokenOK(r) {
		h.reject(w, r, http.StatusUnauthorized, RejectToken, "missing or wrong bearer token")
		return
	}
	ch := h.lookup(id)
	if ch == nil {
		h.reject(w, r, http.StatusNotFound, RejectChannel, "no channel "+strconv.Quote(id))
		return
	}
	p, err := ParseParams(r.URL.RawQuery)
	switch {
	case errors.Is(err, ErrBadTrack):
		h.reject(w, r, http.StatusBadRequest, RejectTrack, err.Error())
		return
	case errors.Is(err, ErrBadSince):
		h.reject(w, r, http.StatusBadRequest, RejectSince, err.Error())
		return
	case err != nil:
		h.reject(w, r, http.StatusBadRequest, RejectQuery, err.Error())
		return
	}
	tr := ch.trackFor(p.Track)
	if tr == nil {
		h.reject(w, r, http.StatusBadRequest, RejectTrack, "channel "+strconv.Quote(id)+" does not offer track "+strconv.Quote(p.Track))
		return
	}
	c := newClient(h, ch, tr, remoteIP(r))
	if reason, ok := h.admit(c); !ok {
		h.reject(w, r, http.StatusServiceUnavailable, reason, "too many connections ("+string(reason)+")")
		return
	}
	defer h.release(c)
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.rejected[RejectHandshake].Add(1)
		h.opts.Logger.Debug("websocket handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	h.cnt.accepted.Add(1)
	ch.cnt.accepted.Add(1)
	c.serve(conn, p)
}
