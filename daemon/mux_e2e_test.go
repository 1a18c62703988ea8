package daemon_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// teletextText decodes page 888 of a TS with ffmpeg/libzvbi into SRT text.
func teletextText(t *testing.T, ts string) string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-txt_format", "text", "-txt_page", "888",
		"-fix_teletext_pts", "1", "-i", ts, "-map", "0:s", "-c:s", "srt", "-f", "srt", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg teletext decode: %v\n%s", err, out)
	}
	return string(out)
}

func TestMuxRecognisesIntoTeletext(t *testing.T) {
	dir := t.TempDir()
	ts, _ := toneTS(t, dir, "in", 1.5, "good day", "big fox")
	outTS := filepath.Join(dir, "out.ts")
	if _, errOut, code := subtitled(t, nil, "mux", "--in", ts, "--out", outTS, "--model", toneModelDir(), "--track", "verbatim", "--quiet"); code != 0 {
		t.Fatalf("mux: exit %d: %s", code, errOut)
	}
	srt := teletextText(t, outTS)
	for _, want := range []string{"good day", "big fox"} {
		if !strings.Contains(srt, want) {
			t.Fatalf("teletext lacks %q:\n%s", want, srt)
		}
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name:stream_tags=language", outTS).CombinedOutput()
	if err != nil || !strings.Contains(string(probe), "dvb_teletext") || !strings.Contains(string(probe), "language=eng") {
		t.Fatalf("ffprobe: %v\n%s", err, probe)
	}
}

func TestMuxGivenCaptionsFromStdin(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
		"-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "mp2", "-f", "mpegts", in)
	srt := filepath.Join(dir, "cc.srt")
	if err := os.WriteFile(srt, []byte("1\n00:00:01,000 --> 00:00:02,500\nGrüße aus Köln\n\n2\n00:00:03,000 --> 00:00:04,000\nzweite Zeile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := subtitled(t, data, "mux", "--in", "-", "--out", "-", "--captions", srt, "--language", "de", "--quiet")
	if code != 0 {
		t.Fatalf("mux: exit %d: %s", code, errOut)
	}
	outTS := filepath.Join(dir, "out.ts")
	if err := os.WriteFile(outTS, out, 0o644); err != nil {
		t.Fatal(err)
	}
	got := teletextText(t, outTS)
	for _, want := range []string{"Grüße aus Köln", "zweite Zeile"} {
		if !strings.Contains(got, want) {
			t.Fatalf("teletext lacks %q:\n%s", want, got)
		}
	}
	// Bad caption files are refused with one clear line.
	bad := filepath.Join(dir, "bad.srt")
	if err := os.WriteFile(bad, []byte("1\nnot a time\nhello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := subtitled(t, nil, "mux", "--in", in, "--out", filepath.Join(dir, "x.ts"), "--captions", bad); code == 0 || !strings.Contains(string(errOut), "bad.srt") {
		t.Fatalf("bad SRT: exit %d: %s", code, errOut)
	}
}

func TestRunTeletextOutputs(t *testing.T) {
	dir := t.TempDir()
	ts, _ := toneTS(t, dir, "in", 1.5, "good day", "big fox")
	outFile := filepath.Join(dir, "out.ts")
	p := startDaemon(t, dir, fmt.Sprintf(`
models:
  tone: {path: %s}
channels:
  - id: tt
    language: en
    model: tone
    input: {url: %s, realtime: true}
    captions: {tracks: [verbatim]}
    outputs:
      - ts: {url: %s, track: verbatim, sync: delay, delay: 8s}
      - websocket: {tracks: [verbatim]}
`, toneModelDir(), ts, outFile))
	p.waitState("tt", "ended")
	p.signal(syscall.SIGTERM)
	if err := p.wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	srt := teletextText(t, outFile)
	for _, want := range []string{"good day", "big fox"} {
		if !strings.Contains(srt, want) {
			t.Fatalf("teletext of the output TS lacks %q:\n%s", want, srt)
		}
	}
}
