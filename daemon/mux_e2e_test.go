package daemon_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/subtitled/subtitled/tools/testenv"
)

// teletextText decodes page 888 of a TS with ffmpeg/libzvbi into SRT text.
func teletextText(t *testing.T, ts string) string {
	t.Helper()
	return teletextPage(t, ts, "888")
}

// teletextPage decodes one teletext page of a TS into SRT text.
func teletextPage(t *testing.T, ts, page string) string {
	t.Helper()
	return string(testenv.DecodeTeletext(t, ts, page, "-fix_teletext_pts", "1"))
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
	ts, _ := toneTS(t, dir, "in", 3.0, "good day", "big fox") // long pauses: live sync needs each cue before the input ends
	outFile := filepath.Join(dir, "out.ts")
	// A UDP receiver standing in for a multicast consumer. Its output is in
	// live sync: paced by the input, so loopback never drops a burst.
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	_ = uc.SetReadBuffer(4 << 20)
	var udpData bytes.Buffer
	var udpMu sync.Mutex
	go func() {
		buf := make([]byte, 2048)
		for {
			n, err := uc.Read(buf)
			if err != nil {
				return
			}
			udpMu.Lock()
			udpData.Write(buf[:n])
			udpMu.Unlock()
		}
	}()
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
      - ts: {url: "udp://%s", track: verbatim, sync: live, teletext: {page: 777}}
      - ts: {url: http, track: verbatim, sync: delay, delay: 8s}
      - websocket: {tracks: [verbatim]}
`, toneModelDir(), ts, outFile, uc.LocalAddr().String()))
	resp, err := http.Get("http://" + p.addr + "/v1/channels/tt/ts")
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "video/mp2t" {
		t.Fatalf("HTTP TS output: %d %s", resp.StatusCode, ct)
	}
	httpData := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(resp.Body)
		httpData <- b
	}()
	p.waitState("tt", "ended")
	p.signal(syscall.SIGTERM)
	if err := p.wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	httpTS := filepath.Join(dir, "http.ts")
	if err := os.WriteFile(httpTS, <-httpData, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the last datagrams are in flight on loopback
	udpMu.Lock()
	udpTS := filepath.Join(dir, "udp.ts")
	err = os.WriteFile(udpTS, udpData.Bytes(), 0o644)
	udpMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, page string }{
		{"file", outFile, "888"}, {"udp", udpTS, "777"}, {"http", httpTS, "888"},
	} {
		srt := teletextPage(t, tc.path, tc.page)
		for _, want := range []string{"good day", "big fox"} {
			if !strings.Contains(srt, want) {
				t.Fatalf("%s output: teletext page %s lacks %q:\n%s", tc.name, tc.page, want, srt)
			}
		}
	}
}
