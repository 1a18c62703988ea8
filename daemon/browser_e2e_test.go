package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/subtitled/subtitled/tools/testenv"
)

// chromium finds Debian's Chromium.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is required for the browser tests (Debian package chromium; tools/setup-debian.sh)")
	return ""
}

// browser starts headless Chromium with the flags this closed network needs.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 720),
	}, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	return ctx
}

// artifactDir is where browser tests leave screenshots (out/test-artifacts).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := testenv.Path("out", "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDemoPageShowsCaptions(t *testing.T) {
	dir := t.TempDir()
	ts, _ := toneTS(t, dir, "a", 1.5, "good day", "big fox", "lazy dog")
	p := startDaemon(t, dir, fmt.Sprintf(`
models:
  tone: {path: %s}
channels:
  - id: demo
    language: en
    model: tone
    input: {url: %s, realtime: true, loop: true}
    outputs:
      - websocket: {tracks: [verbatim, subtitle]}
`, toneModelDir(), ts))
	ws := dialWS(t, p.addr, "demo", "track=verbatim")

	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Navigate("http://"+p.addr+"/demo?channel=demo&track=verbatim")); err != nil {
		t.Fatalf("demo page: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__subtitled && window.__subtitled.cues.length >= 3`,
		chromedp.WithPollingTimeout(80*time.Second))); err != nil {
		st, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[string](`JSON.stringify(window.__subtitled || null) + " " + document.body.innerText`))
		t.Fatalf("waiting for captions on the demo page: %v; page state %s; client got %d cues", err, st, len(ws.cues()))
	}
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.__subtitled.cues.map(c => ({id: c.id, lines: c.lines})))`))
	if err != nil {
		t.Fatal(err)
	}
	// Wait until a final caption is on screen, then read and photograph it.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('[data-cue-id]').length > 0`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		t.Fatalf("no caption drawn: %v", err)
	}
	domLines, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-cue-id]')).map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifactDir(t), "demo.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	var pageCues []wsMsg
	if err := json.Unmarshal([]byte(state), &pageCues); err != nil {
		t.Fatal(err)
	}
	// The page's cues are the WebSocket's cue stream, id for id.
	waitUntil(t, 30*time.Second, "test client catches up", func() bool { return len(ws.cues()) >= len(pageCues) })
	byID := map[uint64]string{}
	for _, c := range ws.cues() {
		byID[c.ID] = c.text()
	}
	for _, c := range pageCues[:3] {
		if byID[c.ID] != c.text() {
			t.Fatalf("page cue %d %q, WebSocket says %q", c.ID, c.text(), byID[c.ID])
		}
	}
	// What is drawn is one of the cue texts.
	if len(domLines) == 0 {
		t.Fatal("no caption lines in the DOM")
	}
	all := strings.Join([]string{"good day", "big fox", "lazy dog"}, "|")
	for _, l := range domLines {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(all, l) {
			t.Fatalf("DOM shows %q, not a cue", l)
		}
	}
}
