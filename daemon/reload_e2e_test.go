package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReloadRestartsOnlyChangedChannels(t *testing.T) {
	dir := t.TempDir()
	ts, _ := toneTS(t, dir, "loop", 1.4, "good day", "big fox")
	base := `
models:
  tone: {path: %s}
channels:
  - id: keep
    language: en
    model: tone
    input: {url: %s, realtime: true, loop: true}
    outputs:
      - websocket: {tracks: [verbatim]}
  - id: change
    language: en
    model: tone
    input: {url: %s, realtime: true, loop: true}
    captions: {max_chars_per_line: %d}
    outputs:
      - websocket: {tracks: [verbatim]}
%s`
	cfg := func(chars int, extra string) string {
		return fmt.Sprintf(base, toneModelDir(), ts, ts, chars, extra)
	}
	p := startDaemon(t, dir, cfg(42, ""))
	keep := dialWS(t, p.addr, "keep", "track=verbatim")
	change := dialWS(t, p.addr, "change", "track=verbatim")
	waitUntil(t, 60*time.Second, "cues before the reload", func() bool { return len(keep.cues()) >= 2 && len(change.cues()) >= 1 })

	// Change one channel's caption settings and add a channel.
	p.writeConfig(cfg(30, `  - id: added
    language: en
    model: tone
    input: {url: `+ts+`, realtime: true, loop: true}
    outputs:
      - websocket: {}
`))
	p.signal(syscall.SIGHUP)
	waitUntil(t, 30*time.Second, "added channel", func() bool { return p.channelState("added") == "live" })
	before := len(keep.cues())
	waitUntil(t, 60*time.Second, "cues after the reload", func() bool { return len(keep.cues()) >= before+3 })

	// An invalid config is rejected and everything keeps running.
	p.writeConfig("channels: [{id: BAD ID}]\n")
	p.signal(syscall.SIGHUP)
	waitUntil(t, 10*time.Second, "reload rejection logged", func() bool { return strings.Contains(p.logs(), "reload rejected") })
	n := len(keep.cues())
	waitUntil(t, 60*time.Second, "cues after the rejected reload", func() bool { return len(keep.cues()) >= n+2 })
	if s := p.channelState("added"); s != "live" {
		t.Fatalf("added channel is %q after a rejected reload", s)
	}

	// The untouched channel's client stayed connected and its ids have no gap.
	for _, c := range []*wsClient{keep, change} {
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err != nil {
			t.Fatalf("a client was disconnected by the reload: %v", err)
		}
	}
	ids := keep.cues()
	for i := 1; i < len(ids); i++ {
		if ids[i].ID != ids[i-1].ID+1 {
			t.Fatalf("cue ids of the untouched channel jump from %d to %d", ids[i-1].ID, ids[i].ID)
		}
	}
	// The changed channel continued its ids too.
	cids := change.cues()
	for i := 1; i < len(cids); i++ {
		if cids[i].ID <= cids[i-1].ID {
			t.Fatalf("changed channel ids not increasing: %v", cueTexts(cids))
		}
	}
	_, metrics := p.get("/metrics")
	if !strings.Contains(metrics, `subtitled_reloads_total{result="applied"} 1`) || !strings.Contains(metrics, `subtitled_reloads_total{result="rejected"} 1`) {
		t.Fatalf("reload counters missing:\n%s", grepLines(metrics, "reloads"))
	}
}

func TestShutdownFlushesLastWords(t *testing.T) {
	dir := t.TempDir()
	// One long sentence without a pause: SIGTERM arrives mid-speech.
	ts, _ := toneTS(t, dir, "long", 0.2, "the quick brown fox jumps over the lazy dog")
	file := filepath.Join(dir, "out.srt")
	p := startDaemon(t, dir, fmt.Sprintf(`
models:
  tone: {path: %s}
channels:
  - id: a
    language: en
    model: tone
    input: {url: %s, realtime: true}
    outputs:
      - websocket: {tracks: [verbatim]}
      - file: {path: %s, track: verbatim}
`, toneModelDir(), ts, file))
	ws := dialWS(t, p.addr, "a", "track=verbatim")
	waitUntil(t, 60*time.Second, "partial words", func() bool {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		for _, m := range ws.msgs {
			if m.Type == "partial" && strings.Contains(m.text(), "brown") {
				return true
			}
		}
		return false
	})
	if len(ws.cues()) != 0 {
		t.Fatalf("a cue before the end of the sentence: %v", cueTexts(ws.cues()))
	}
	p.signal(syscall.SIGTERM)
	if err := p.wait(20 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	<-ws.done
	got := strings.Join(cueTextsOnly(ws.cues()), " ")
	if !strings.HasPrefix("the quick brown fox jumps over the lazy dog", got) || !strings.Contains(got, "brown") {
		t.Fatalf("final cues on the WebSocket %q", got)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ReplaceAll(string(b), "\n", " "), "quick brown") {
		t.Fatalf("caption file lacks the last words:\n%s", b)
	}
	ws.mu.Lock()
	closeErr := fmt.Sprint(ws.err)
	ws.mu.Unlock()
	if !strings.Contains(closeErr, "1001") {
		t.Fatalf("client closed with %s, want 1001 (going away)", closeErr)
	}
}

func cueTextsOnly(ms []wsMsg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.text())
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
