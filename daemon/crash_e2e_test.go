package daemon_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var crashCycles = flag.Int("crash.cycles", 4, "SIGKILL/restart cycles of TestCrashRestartLosesNoCue (docs/RELIABILITY.md records a 50-cycle run)")

// TestCrashRestartLosesNoCue kills the daemon with SIGKILL at random moments
// and starts it again, over and over. Every cue a WebSocket client received
// must be in the caption files with the same text, and no cue ID is ever
// used for two different cues (the next IDs survive in state_dir).
func TestCrashRestartLosesNoCue(t *testing.T) {
	dir := t.TempDir()
	ts, _ := toneTS(t, dir, "loop", 1.5, "good day", "big fox", "lazy dog", "red cat", "old man")
	out := filepath.Join(dir, "out")
	cfg := fmt.Sprintf(`
state_dir: %s
models:
  tone: {path: %s}
channels:
  - id: news
    language: en
    model: tone
    input: {url: %s, realtime: true, loop: true}
    outputs:
      - websocket: {tracks: [verbatim]}
      - file: {path: %s, track: verbatim, format: json}
`, filepath.Join(dir, "state"), toneModelDir(), ts, filepath.Join(out, "captions.jsonl"))
	rng := rand.New(rand.NewSource(1))
	seen := map[uint64]string{} // every cue a client received: id → text
	lastID := uint64(0)
	for cycle := 0; cycle < *crashCycles; cycle++ {
		p := startDaemon(t, dir, cfg)
		ws := dialWS(t, p.addr, "news", "track=verbatim")
		// A cue needs about 5 s from start (sentence, endpoint, hang); some
		// runs die before their first cue, some after several.
		time.Sleep(time.Duration(5000+rng.Intn(5000)) * time.Millisecond)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-p.exited
		<-ws.done
		for _, c := range ws.cues() {
			if c.ID <= lastID {
				t.Fatalf("cycle %d: cue id %d after id %d: IDs went back after a restart", cycle, c.ID, lastID)
			}
			lastID = c.ID
			seen[c.ID] = c.text()
		}
	}
	if len(seen) < *crashCycles {
		t.Fatalf("only %d cues over %d cycles: the test did not exercise much", len(seen), *crashCycles)
	}
	// Everything the clients saw is in the files (live and rotated-away).
	files, _ := filepath.Glob(filepath.Join(out, "captions*.jsonl"))
	inFiles := map[uint64]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var c jsonCue
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("%s: bad line %q: %v", f, sc.Text(), err)
			}
			text := strings.Join(c.Lines, " ")
			if prev, ok := inFiles[c.ID]; ok && prev != text {
				t.Fatalf("cue id %d used twice: %q and %q", c.ID, prev, text)
			}
			inFiles[c.ID] = text
		}
		fh.Close()
	}
	for id, text := range seen {
		if got, ok := inFiles[id]; !ok || got != text {
			t.Errorf("cue %d %q reached a client but the files have %q (present %v)", id, text, got, ok)
		}
	}
	t.Logf("%d cycles: %d cues seen by clients, %d cues in %d files, all present", *crashCycles, len(seen), len(inFiles), len(files))
}
