package main

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/tools/testenv"
	"github.com/subtitled/subtitled/tools/tonegen"
)

func nan() float64 { return math.NaN() }

// buildDaemon builds cmd/subtitled into a temporary bin/ beside a link to
// the repository's lib/, where the binary finds ONNX Runtime.
func buildDaemon(t *testing.T) string {
	t.Helper()
	root := testenv.Path()
	lib := filepath.Join(root, "lib", "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ONNX Runtime missing at %s: run `make ort`", lib)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "subtitled")
	build := exec.Command("go", "build", "-o", bin, "./cmd/subtitled")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building subtitled: %v\n%s", err, out)
	}
	if err := os.Symlink(filepath.Join(root, "lib"), filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUBTITLED_ORT_LIB", "")
	return bin
}

// toneInput makes a TS whose audio spells a few sentences in the tone
// alphabet of the fixture model, with pauses long enough for endpoints.
func toneInput(t *testing.T, dir string) string {
	t.Helper()
	ffmpeg := testenv.Tool(t, "ffmpeg")
	tab, err := tonegen.Load(testenv.Path("testdata", "models", "tone", "tones.json"))
	if err != nil {
		t.Fatal(err)
	}
	const rate = 48000
	var pcm []float32
	for _, s := range []string{"good day", "big fox", "lazy dog"} {
		sp, err := tab.Spell(s, rate, 1.5)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, sp.Samples...)
	}
	wav := filepath.Join(dir, "tone.wav")
	if err := os.WriteFile(wav, tonegen.WAV(pcm, rate), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, "tone.ts")
	cmd := exec.Command(ffmpeg, "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", wav,
		"-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-c:a", "aac", "-ac", "2", "-ar", "48000", "-f", "mpegts", ts)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return ts
}

// TestSoakEndToEnd runs the tool for real against a freshly built daemon
// with two channels of the tone model, five clients and two reloads.
func TestSoakEndToEnd(t *testing.T) {
	bin := buildDaemon(t)
	dir := t.TempDir()
	ts := toneInput(t, dir)
	csvPath := filepath.Join(dir, "soak.csv")
	o, err := parseFlags([]string{
		"-bin", bin, "-input", ts, "-model", testenv.Path("testdata", "models", "tone"),
		"-channels", "2", "-clients", "5", "-duration", "20s", "-reload", "8s", "-sample", "2s", "-warmup", "4s",
		// A 4 s warm-up is too short for a meaningful RSS baseline; the
		// growth limit is the soak's, not this test's, business.
		"-max-rss-growth", "100", "-csv", csvPath, "-v",
	}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := run(context.Background(), o, &out)
	t.Logf("tool output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 {
		t.Fatalf("soak failed: %q", res.Failures)
	}
	if res.Reloads != 2 || res.ReloadsApplied != 2 {
		t.Errorf("reloads %d, applied %d; want 2 and 2", res.Reloads, res.ReloadsApplied)
	}
	if res.Connections < 5 || res.ClientCues == 0 || res.Cues == 0 {
		t.Errorf("connections %d, client cues %d, cues %v", res.Connections, res.ClientCues, res.Cues)
	}
	if res.ExitCode != 0 || res.RSSBase == 0 || res.RSSMax < res.RSSBase || res.Latency.count == 0 {
		t.Errorf("exit %d, rss base %d max %d, latency count %v", res.ExitCode, res.RSSBase, res.RSSMax, res.Latency.count)
	}
	// The daemon runs on glibc: its C heap is in the samples.
	if !(res.CHeapLoadRef > 0 && res.CHeapLoadEnd > 0) || math.IsNaN(res.RSSSlope) || math.IsNaN(res.CHeapSlope) {
		t.Errorf("C heap %v → %v MiB, slopes RSS %v C heap %v MiB/min", res.CHeapLoadRef, res.CHeapLoadEnd, res.RSSSlope, res.CHeapSlope)
	}
	if res.CaptionFiles < 2 || res.CaptionFileCues == 0 {
		t.Errorf("caption files %d with %d cues", res.CaptionFiles, res.CaptionFileCues)
	}
	if _, err := os.Stat(res.Dir); !os.IsNotExist(err) {
		t.Errorf("working directory %s left behind after a pass", res.Dir)
	}
	for _, want := range []string{"=== soak summary ===", "connections made:", "final latency:", "shutdown:            exit 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Header, ~2 warm-up samples plus the baseline, ~10 run samples, drain.
	if len(rows) < 8 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("CSV has %d rows, header %q", len(rows), rows[0])
	}
	phases := map[string]int{}
	for _, r := range rows[1:] {
		phases[r[2]]++
		if _, err := time.Parse(time.RFC3339, r[0]); err != nil {
			t.Errorf("bad time %q", r[0])
		}
	}
	if phases[phaseWarmup] == 0 || phases[phaseRun] == 0 || phases[phaseDrain] != 1 {
		t.Errorf("samples by phase %v", phases)
	}
}
