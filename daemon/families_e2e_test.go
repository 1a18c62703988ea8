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

// familyCase is one model-family fixture and what its sounds decode to.
type familyCase struct {
	dir  string   // under testdata/models/families
	info string   // in `model info`
	nemo bool     // NeMo filterbank (nemo_sounds.json), else Kaldi (sounds.json)
	bins int      // NeMo feature bins
	a, b []string // the sounds of the two sentences
	want string   // the cue texts, joined by |
}

var familyCases = []familyCase{
	// icefall keeps the decoder context across an endpoint.
	{dir: "zipformer2", info: "zipformer2 transducer", a: []string{"NEW", "YORK"}, b: []string{"HA", "NEW"}, want: "NEW YORK|HA NEW"},
	{dir: "zipformer", info: "zipformer transducer", a: []string{"NEW", "YORK"}, b: []string{"HA", "NEW"}, want: "NEW YORK|HA NEW"},
	{dir: "lstm", info: "lstm transducer", a: []string{"NEW", "YORK"}, b: []string{"HA", "NEW"}, want: "NEW YORK|HA NEW"},
	{dir: "zipformer2_ctc", info: "zipformer2_ctc (CTC)", a: []string{"THE", "CAT", "S"}, b: []string{"DITTO1", "HA"}, want: "THE CATS|HA"},
	{dir: "nemo_ctc", info: "nemo_ctc (CTC)", nemo: true, bins: 80, a: []string{"THE", "CAT", "S"}, b: []string{"HA", "COMMA"}, want: "The cats|ha,"},
	// NeMo resets the prediction network at an endpoint.
	{dir: "nemo_transducer", info: "nemo_transducer transducer", nemo: true, bins: 80, a: []string{"NEW", "YORK"}, b: []string{"DITTO1", "HA", "DITTO1"}, want: "New York|ha ha"},
	{dir: "nemotron", info: "128 bins", nemo: true, bins: 128, a: []string{"NEW_YORK", "PERIOD"}, b: []string{"DITTO1", "HA", "DITTO1"}, want: "New York.|ha ha"},
}

// familyTS writes a TS (H.264 + AAC, 48 kHz) of a family fixture's sounds:
// sentence a, a 2 s pause, sentence b, 2 s of silence.
func familyTS(t *testing.T, dir string, c familyCase) string {
	t.Helper()
	table, band := "sounds.json", sounds.KaldiBandHz
	if strings.HasSuffix(c.dir, ".json") {
		table = c.dir
	}
	if c.nemo {
		table, band = "nemo_sounds.json", func(b int) float64 { return sounds.SlaneyBandHz(b, c.bins) }
	}
	tab, err := sounds.Load(testenv.Path("testdata", "models", "families", table))
	if err != nil {
		t.Fatal(err)
	}
	a, err := tab.Synth(48000, band, 300, c.a...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tab.Synth(48000, band, 2000, c.b...)
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(a.Samples, b.Samples...), make([]float32, 48000*2)...)
	name := strings.ReplaceAll(c.dir, "/", "_")
	wav := filepath.Join(dir, name+".wav")
	if err := os.WriteFile(wav, tonegen.WAV(all, 48000), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, name+".ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", wav,
		"-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", "128k", "-f", "mpegts", ts)
	return ts
}

// TestModelFamilies: `model info` and `transcribe` run every public model
// family's fixture (icefall zipformer2, zipformer v1 and LSTM transducers,
// zipformer2 CTC, NeMo CTC, NeMo transducer, Nemotron with 128-bin features)
// through the whole pipeline: AAC in a TS, libavcodec, the family's
// features, the encoder with its states, search, endpointing, cues. A live
// channel runs one of them with beam search, through the model's batch
// scheduler.
func TestModelFamilies(t *testing.T) {
	dir := t.TempDir()
	var liveTS string
	for _, c := range familyCases {
		t.Run(c.dir, func(t *testing.T) {
			model := testenv.Path("testdata", "models", "families", c.dir)
			out, errOut, code := subtitled(t, nil, "model", "info", model)
			if code != 0 || !strings.Contains(string(out), c.info) || !strings.Contains(string(out), "state/stream:") {
				t.Fatalf("model info: exit %d\n%s%s", code, out, errOut)
			}
			ts := familyTS(t, dir, c)
			if c.dir == "zipformer2" {
				liveTS = ts
			}
			out, errOut, code = subtitled(t, nil, "transcribe", ts, "--model", model, "--format", "json", "--quiet")
			if code != 0 {
				t.Fatalf("transcribe: exit %d\n%s", code, errOut)
			}
			var texts []string
			for _, cue := range parseJSONCues(t, out) {
				texts = append(texts, strings.Join(cue.Lines, " "))
			}
			if got := strings.Join(texts, "|"); got != c.want {
				t.Fatalf("cues %q, want %s", texts, c.want)
			}
		})
	}
	if liveTS == "" {
		t.Fatal("no zipformer2 stream")
	}
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
`, testenv.Path("testdata", "models", "families", "zipformer2"), liveTS))
	ws := dialWS(t, p.addr, "live", "track=verbatim&since=1")
	waitUntil(t, 60*time.Second, "two cues from the zipformer2 fixture", func() bool { return len(ws.cues()) >= 2 })
	if a, b := ws.cues()[0].text(), ws.cues()[1].text(); a != "NEW YORK" || b != "HA NEW" {
		t.Fatalf("live cues %q, %q", a, b)
	}
	if !strings.Contains(p.logs(), "family=zipformer2") {
		t.Errorf("the log does not name the family:\n%s", p.logs())
	}
	// The transducer's encoder calls go through its batch scheduler.
	_, metrics := p.get("/metrics")
	for _, m := range []string{`subtitled_model_batch_size_count{model="zf"}`, `subtitled_model_call_seconds_count{model="zf"}`} {
		if !strings.Contains(metrics, m) || strings.Contains(metrics, m+" 0\n") {
			t.Errorf("/metrics has no %s observations", m)
		}
	}
}

// TestSubtitleHeadTranscribe: a bundle with a subtitle head (the two-head
// fixture) gives the subtitle track from that head, not from the rules on
// the verbatim words: fillers dropped, a repetition collapsed and "yeah"
// replaced by "yes", which the rules would not do; `model info` lists both
// heads.
func TestSubtitleHeadTranscribe(t *testing.T) {
	dir := t.TempDir()
	model := testenv.Path("testdata", "models", "families", "two_heads")
	out, errOut, code := subtitled(t, nil, "model", "info", model)
	if code != 0 || !strings.Contains(string(out), "subtitle (CTC: output subtitle_log_probs") {
		t.Fatalf("model info: exit %d\n%s%s", code, out, errOut)
	}
	c := familyCase{dir: "two_heads/sounds.json", a: []string{"YEAH", "UM", "THE", "THE", "CAT", "S", "UH", "SAT", "ON", "THE", "MAT"}, b: []string{"UM", "YEAH"}}
	ts := familyTS(t, dir, c)
	for track, want := range map[string]string{
		"verbatim": "yeah um the the cats uh sat on the mat|um yeah",
		"subtitle": "Yes the cats sat on the mat.|Yes.",
	} {
		out, errOut, code := subtitled(t, nil, "transcribe", ts, "--model", model, "--track", track, "--format", "json", "--quiet")
		if code != 0 {
			t.Fatalf("transcribe --track %s: exit %d\n%s", track, code, errOut)
		}
		var texts []string
		for _, cue := range parseJSONCues(t, out) {
			texts = append(texts, strings.Join(cue.Lines, " "))
		}
		if got := strings.Join(texts, "|"); got != want {
			t.Errorf("%s cues %q, want %s", track, texts, want)
		}
	}
}
