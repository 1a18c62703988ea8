// Package web serves the embedded browser assets: the caption overlay
// client overlay.js (the reference client of the WebSocket feed, see
// docs/PROTOCOL.md), the /demo player page and the /publish page that sends
// a browser's microphone over WHIP (docs/WEBRTC.md).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

//go:embed overlay.js demo.js demo.html publish.js publish.html
var files embed.FS

// Paths lists the paths Handler serves, for mounting on a mux.
var Paths = []string{"/overlay.js", "/demo", "/demo.html", "/demo.js", "/publish", "/publish.html", "/publish.js"}

// Options configures the demo page.
type Options struct {
	// DemoVideo is the video the demo page plays when its URL has no ?src=
	// (empty: none, a black 16:9 box).
	DemoVideo string
	// DemoChannel is the channel shown when the URL has no ?channel=
	// (empty: "demo").
	DemoChannel string
}

// Content types and caching: the overlay is meant to be imported by other
// sites' players, so it may be cached briefly and revalidated by ETag; the
// demo page and script always revalidate.
const (
	typeJS       = "text/javascript; charset=utf-8"
	typeHTML     = "text/html; charset=utf-8"
	cacheOverlay = "public, max-age=300"
	cacheDemo    = "no-cache"
	// The demo page loads only its own script and the feed; the video may
	// come from anywhere.
	demoCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"connect-src 'self' ws: wss:; media-src * blob: data:; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
	// The publish page talks only to this server (WHIP and the feed).
	publishCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"connect-src 'self' ws: wss:; media-src 'self' blob:; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

// asset is one response body with its headers.
type asset struct {
	body        []byte
	contentType string
	cache       string
	etag        string
	csp         string
}

func newAsset(body []byte, contentType, cache, csp string) *asset {
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: contentType, cache: cache, csp: csp,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

func (a *asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cache)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.csp != "" {
		h.Set("Content-Security-Policy", a.csp)
		h.Set("Referrer-Policy", "same-origin")
	}
	if a.contentType == typeJS {
		// Players on other origins import the overlay as a module.
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(a.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// Handler serves the assets with the default Options.
func Handler() http.Handler { return NewHandler(Options{}) }

// NewHandler serves GET and HEAD of /overlay.js, /demo.js, /demo,
// /demo.html and the WHIP publish page /publish (/publish.html,
// /publish.js); other paths get 404, other methods 405.
func NewHandler(o Options) http.Handler {
	mux := http.NewServeMux()
	overlay := newAsset(mustRead("overlay.js"), typeJS, cacheOverlay, "")
	demoJS := newAsset(mustRead("demo.js"), typeJS, cacheDemo, "")
	demo := newAsset(renderDemo(o), typeHTML, cacheDemo, demoCSP)
	mux.Handle("GET /overlay.js", overlay)
	mux.Handle("GET /demo.js", demoJS)
	mux.Handle("GET /demo", demo)
	mux.Handle("GET /demo.html", demo)
	publishJS := newAsset(mustRead("publish.js"), typeJS, cacheDemo, "")
	publish := newAsset(mustRead("publish.html"), typeHTML, cacheDemo, publishCSP)
	mux.Handle("GET /publish.js", publishJS)
	mux.Handle("GET /publish", publish)
	mux.Handle("GET /publish.html", publish)
	return mux
}

func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("web: embedded " + name + " missing: " + err.Error())
	}
	return b
}

var demoTemplate = template.Must(template.New("demo.html").Parse(string(mustRead("demo.html"))))

func renderDemo(o Options) []byte {
	var buf bytes.Buffer
	if err := demoTemplate.Execute(&buf, struct{ Video, Channel string }{o.DemoVideo, o.DemoChannel}); err != nil {
		panic("web: demo page: " + err.Error()) // plain strings into attributes cannot fail
	}
	return buf.Bytes()
}
