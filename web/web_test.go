package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype, cache string
		contains     string
	}{
		{"GET", "/overlay.js", 200, "text/javascript; charset=utf-8", "public, max-age=300", "export function attachCaptions("},
		{"GET", "/demo.js", 200, "text/javascript; charset=utf-8", "no-cache", "window.__subtitled = handle.state"},
		{"GET", "/demo", 200, "text/html; charset=utf-8", "no-cache", `<video id="video"`},
		{"GET", "/demo.html", 200, "text/html; charset=utf-8", "no-cache", `<script type="module" src="demo.js">`},
		{"GET", "/publish", 200, "text/html; charset=utf-8", "no-cache", `<script type="module" src="publish.js">`},
		{"GET", "/publish.js", 200, "text/javascript; charset=utf-8", "no-cache", "window.__publish = pub"},
		{"HEAD", "/overlay.js", 200, "text/javascript; charset=utf-8", "public, max-age=300", ""},
		{"GET", "/", 404, "", "", ""},
		{"GET", "/overlay", 404, "", "", ""},
		{"GET", "/demo/", 404, "", "", ""},
		{"GET", "/web.go", 404, "", "", ""},
		{"GET", "/testdata/overlay_test.mjs", 404, "", "", ""},
		{"POST", "/demo", 405, "", "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := get(t, h, tc.method, tc.path, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if resp.Header.Get("ETag") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", resp.Header)
			}
			if tc.method == "HEAD" {
				if len(body) != 0 || resp.Header.Get("Content-Length") == "0" {
					t.Errorf("HEAD: %d body bytes, Content-Length %q", len(body), resp.Header.Get("Content-Length"))
				}
				return
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
		})
	}
}

func TestHandlerRevalidation(t *testing.T) {
	h := Handler()
	first := get(t, h, "GET", "/overlay.js", nil)
	etag := first.Header.Get("ETag")
	for _, tc := range []struct {
		ifNoneMatch string
		status      int
	}{
		{etag, http.StatusNotModified},
		{"W/" + etag, http.StatusNotModified},
		{`"other", ` + etag, http.StatusNotModified},
		{`"other"`, http.StatusOK},
		{"*", http.StatusNotModified},
	} {
		resp := get(t, h, "GET", "/overlay.js", http.Header{"If-None-Match": {tc.ifNoneMatch}})
		if resp.StatusCode != tc.status {
			t.Errorf("If-None-Match %s: HTTP %d, want %d", tc.ifNoneMatch, resp.StatusCode, tc.status)
		}
	}
	if demo := get(t, h, "GET", "/demo", nil); demo.Header.Get("ETag") == etag ||
		!strings.Contains(demo.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("demo headers %v", demo.Header)
	}
	if first.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("overlay.js must be importable from other origins")
	}
}

func TestDemoOptionsEscaped(t *testing.T) {
	h := NewHandler(Options{DemoVideo: `/media/sample.mp4?a=1&b="x"`, DemoChannel: "news<1>"})
	body, _ := io.ReadAll(get(t, h, "GET", "/demo", nil).Body)
	for _, want := range []string{
		`<meta name="subtitled-video" content="/media/sample.mp4?a=1&amp;b=&#34;x&#34;">`,
		`<meta name="subtitled-channel" content="news&lt;1&gt;">`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("demo page lacks %s", want)
		}
	}
	body, _ = io.ReadAll(get(t, Handler(), "GET", "/demo", nil).Body)
	if !strings.Contains(string(body), `<meta name="subtitled-video" content="">`) {
		t.Error("default demo page must have an empty video setting (black box)")
	}
}

// TestOverlayJS runs the behaviour test of overlay.js (fake DOM, timers and
// WebSocket) in Node.
func TestOverlayJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node (Debian package nodejs) is needed to test overlay.js: ", err)
	}
	dir := t.TempDir()
	// An .mjs copy: Node then loads it as an ES module without a package.json.
	mod := filepath.Join(dir, "overlay.mjs")
	if err := os.WriteFile(mod, mustRead("overlay.js"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"overlay.js", "demo.js", "publish.js"} {
		cmd := exec.Command(node, "--input-type=module", "--check")
		cmd.Stdin = strings.NewReader(string(mustRead(f)))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s does not parse as an ES module: %v\n%s", f, err, out)
		}
	}
	out, err := exec.Command(node, filepath.Join("testdata", "overlay_test.mjs"), mod).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("overlay_test.mjs: %v", err)
	}
}
