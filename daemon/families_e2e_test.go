package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/tools/familymodels/sounds"
	"github.com/subtitled/subtitled/tools/testenv"
	"github.com/subtitled/subtitled/tools/tonegen"
)

// familySpeech writes a TS (H.264 + AAC, 48 kHz) of the family fixtures'
// sounds: "NEW YORK", a 2 s pause, "HA NEW".
func familySpeech(t *testing.T, dir string) string {
	t.Helper()
	tab, err := sounds.Load(testenv.Path("testdata", "models", "families", "sounds.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := tab.Synth(48000, 300, "NEW", "YORK")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := tab.Synth(48000, 2000, "HA", "NEW")
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(a, b...), make([]float32, 48000*2)...)
	wav := filepath.Join(dir, "family.wav")
	if err := os.WriteFile(wav, tonegen.WAV(all, 48000), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, "family.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", wav,
		"-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", "128k", "-f", "mpegts", ts)
	return ts
}

// TestTransducerFamilies: `model info`, `transcribe` and a live channel run
// the icefall transducer fixtures (zipformer2, zipformer v1, LSTM) through
// the whole pipeline: AAC in a TS, libavcodec, fbank, encoder with its
// states, decoder and joiner, endpointing, cues.
func TestTransducerFamilies(t *testing.T) {
	dir := t.TempDir()
	ts := familySpeech(t, dir)
	for _, family := range []string{"zipformer2", "zipformer", "lstm"} {
		t.Run(family, func(t *testing.T) {
			model := testenv.Path("testdata", "models", "families", family)
			out, errOut, code := subtitled(t, nil, "model", "info", model)
			if code != 0 || !strings.Contains(string(out), family+" transducer") || !strings.Contains(string(out), "state/stream:") {
				t.Fatalf("model info: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = subtitled(t, nil, "transcribe", ts, "--model", model, "--format", "json", "--quiet")
			if code != 0 {
				t.Fatalf("transcribe: exit %d\n%s", code, errOut)
			}
			var texts []string
			for _, c := range parseJSONCues(t, out) {
				texts = append(texts, strings.Join(c.Lines, " "))
			}
			// icefall keeps the decoder context across an endpoint; the
			// fixture's sounds spell the words directly here.
			if got := strings.Join(texts, "|"); got != "NEW YORK|HA NEW" {
				t.Fatalf("cues %q, want NEW YORK|HA NEW", texts)
			}
		})
	}
	// A live channel with beam search.
	p := startDaemon(t, dir, fmt.Sprintf(`
models:
  zf: {path: %s, decoding: beam, beam: 4}
channels:
  - id: live
    language: en
    model: zf
    input: {url: %s, realtime: true, loop: true}
    outputs:
      - websocket: {tracks: [verbatim]}
`, testenv.Path("testdata", "models", "families", "zipformer2"), ts))
	ws := dialWS(t, p.addr, "live", "track=verbatim&since=1")
	waitUntil(t, 60*time.Second, "two cues from the zipformer2 fixture", func() bool { return len(ws.cues()) >= 2 })
	if a, b := ws.cues()[0].text(), ws.cues()[1].text(); a != "NEW YORK" || b != "HA NEW" {
		t.Fatalf("live cues %q, %q", a, b)
	}
	if !strings.Contains(p.logs(), "family=zipformer2") {
		t.Errorf("the log does not name the family:\n%s", p.logs())
	}
}
