package daemon_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsMsg is one protocol v1 message as the tests read it.
type wsMsg struct {
	Type  string   `json:"type"`
	ID    uint64   `json:"id"`
	Track string   `json:"track"`
	Lines []string `json:"lines"`
	Start float64  `json:"start"`
	End   float64  `json:"end"`
}

func (m wsMsg) text() string { return strings.Join(m.Lines, " ") }

// daemonProc is a running `subtitled run`.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	cfg    string
	mu     sync.Mutex
	log    strings.Builder
	exited chan error
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDaemon writes cfg (with LISTEN replaced) and runs the binary.
func startDaemon(t *testing.T, dir, cfg string) *daemonProc {
	t.Helper()
	p := &daemonProc{t: t, addr: freePort(t), cfg: filepath.Join(dir, "subtitled.yaml"), exited: make(chan error, 1)}
	p.writeConfig(cfg)
	p.cmd = exec.Command(binary, "run", "--config", p.cfg, "--listen", p.addr)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.logs())
		}
	})
	p.waitHTTP("/healthz", 200)
	return p
}

func (p *daemonProc) writeConfig(cfg string) {
	if err := os.WriteFile(p.cfg, []byte(cfg), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *daemonProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *daemonProc) get(path string) (int, string) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *daemonProc) waitHTTP(path string, code int) string {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, body := p.get(path)
		if c == code {
			return body
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("GET %s: %d %s, want %d", path, c, body, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// channelInfo is the part of a channel's /v1/channels entry tests read.
type channelInfo struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
	Input    struct {
		State       string `json:"state"`
		Bytes       uint64 `json:"bytes"`
		Session     string `json:"session"`
		LostPackets uint64 `json:"lost_packets"`
	} `json:"input"`
}

// channel returns one channel's entry from /v1/channels (Restarts -1 when
// the channel is not listed).
func (p *daemonProc) channel(id string) channelInfo {
	_, body := p.get("/v1/channels")
	var v struct{ Channels []channelInfo }
	_ = json.Unmarshal([]byte(body), &v)
	for _, c := range v.Channels {
		if c.ID == id {
			return c
		}
	}
	return channelInfo{Restarts: -1}
}

// channelState returns the state of one channel from /v1/channels.
func (p *daemonProc) channelState(id string) string { return p.channel(id).State }

// channelRestarts returns a channel's restart count from /v1/channels.
func (p *daemonProc) channelRestarts(id string) int { return p.channel(id).Restarts }

func (p *daemonProc) waitState(id, state string) {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for p.channelState(id) != state {
		if time.Now().After(deadline) {
			p.t.Fatalf("channel %s never reached %s (now %q)", id, state, p.channelState(id))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *daemonProc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

func (p *daemonProc) wait(timeout time.Duration) error {
	select {
	case err := <-p.exited:
		return err
	case <-time.After(timeout):
		p.t.Fatalf("daemon did not exit within %s", timeout)
		return nil
	}
}

// wsClient collects the messages of one WebSocket connection.
type wsClient struct {
	conn *websocket.Conn
	mu   sync.Mutex
	msgs []wsMsg
	done chan struct{}
	err  error
}

func dialWS(t *testing.T, addr, channel, query string) *wsClient {
	t.Helper()
	u := url.URL{Scheme: "ws", Host: addr, Path: "/v1/channels/" + channel + "/captions", RawQuery: query}
	conn, resp, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", u.String(), err, code)
	}
	c := &wsClient{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			var m wsMsg
			if json.Unmarshal(b, &m) == nil {
				c.mu.Lock()
				c.msgs = append(c.msgs, m)
				c.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

func (c *wsClient) cues() []wsMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wsMsg
	for _, m := range c.msgs {
		if m.Type == "cue" {
			out = append(out, m)
		}
	}
	return out
}

func (c *wsClient) has(typ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if m.Type == typ {
			return true
		}
	}
	return false
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// toneTS writes a TS (H.264 + AAC) speaking the sentences in tone-alphabet.
func toneTS(t *testing.T, dir, name string, pause float64, sentences ...string) (string, *speech) {
	t.Helper()
	sp := spellSentences(t, 48000, pause, sentences...)
	wavPath := filepath.Join(dir, name+".wav")
	if err := os.WriteFile(wavPath, sp.wav, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, name+".ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", wavPath,
		"-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-c:a", "aac", "-ac", "2", "-ar", "48000", "-f", "mpegts", ts)
	return ts, sp
}

func cueTexts(ms []wsMsg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%d:%s", m.ID, m.text()))
	}
	return out
}

func TestRunChannelsWebSocketFilesAndFailures(t *testing.T) {
	dir := t.TempDir()
	short := []string{"good day", "big fox", "lazy dog"}
	ts, _ := toneTS(t, dir, "a", 1.5, short...)
	udpTS, _ := toneTS(t, dir, "u", 1.5, "hi there")
	udpAddr := strings.Replace(freePort(t), "127.0.0.1", "127.0.0.1", 1)
	cfg := fmt.Sprintf(`
models:
  tone:
    path: %s
channels:
  - id: a
    language: en
    model: tone
    input: {url: %s, realtime: true}
    captions: {tracks: [verbatim, subtitle]}
    outputs:
      - websocket: {tracks: [verbatim, subtitle]}
      - file: {path: %s, format: json, track: verbatim}
  - id: udp
    language: en
    model: tone
    input: {url: "udp://%s"}
    outputs:
      - websocket: {}
  - id: broken
    language: en
    model: tone
    input: {url: %s}
    restart: {min: 200ms, max: 1s}
    outputs:
      - websocket: {}
`, toneModelDir(), ts, filepath.Join(dir, "a.jsonl"), udpAddr, filepath.Join(dir, "missing.ts"))
	p := startDaemon(t, dir, cfg)

	// Two clients from the start; a third leaves after the first cue and
	// resumes with since=.
	c1 := dialWS(t, p.addr, "a", "track=verbatim")
	c2 := dialWS(t, p.addr, "a", "track=verbatim")
	c3 := dialWS(t, p.addr, "a", "track=verbatim")
	waitUntil(t, 60*time.Second, "first cue", func() bool { return len(c3.cues()) >= 1 })
	c3.conn.Close()
	<-c3.done
	firstPart := c3.cues()
	c3b := dialWS(t, p.addr, "a", fmt.Sprintf("track=verbatim&since=%d", firstPart[len(firstPart)-1].ID+1))

	// Feed the UDP channel with ffmpeg in real time.
	ff := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-re", "-i", udpTS, "-c", "copy", "-f", "mpegts", "udp://"+udpAddr+"?pkt_size=1316")
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ff.Process.Kill(); _ = ff.Wait() }()
	udpClient := dialWS(t, p.addr, "udp", "track=verbatim")

	// /readyz is 200 while a channel is live; the broken one fails and retries.
	p.waitHTTP("/readyz", 200)
	waitUntil(t, 30*time.Second, "broken channel restarts", func() bool { return p.channelRestarts("broken") >= 2 })
	if s := p.channelState("broken"); s != "failed" && s != "starting" {
		t.Fatalf("broken channel state %q", s)
	}

	p.waitState("a", "ended")
	waitUntil(t, 10*time.Second, "eos", func() bool { return c1.has("eos") && c2.has("eos") && c3b.has("eos") })
	want := []string{"1:good day", "2:big fox", "3:lazy dog"}
	for i, c := range []*wsClient{c1, c2} {
		if got := cueTexts(c.cues()); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("client %d cues %v, want %v", i+1, got, want)
		}
	}
	resumed := cueTexts(append(firstPart, c3b.cues()...))
	if strings.Join(resumed, "|") != strings.Join(want, "|") {
		t.Fatalf("reconnected client cues %v, want %v", resumed, want)
	}

	// The file holds the same cues as the WebSocket.
	b, err := os.ReadFile(filepath.Join(dir, "a.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var fileCues []wsMsg
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m wsMsg
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("caption file line %q: %v", line, err)
		}
		fileCues = append(fileCues, m)
	}
	if got := cueTexts(fileCues); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("file cues %v, want %v", got, want)
	}

	waitUntil(t, 60*time.Second, "UDP channel cue", func() bool { return len(udpClient.cues()) >= 1 })
	if got := udpClient.cues()[0].text(); got != "hi there" {
		t.Fatalf("UDP channel cue %q", got)
	}

	_, metrics := p.get("/metrics")
	for _, want := range []string{
		`subtitled_cues_total{channel="a",track="verbatim"} 3`,
		`subtitled_channel_restarts_total{channel="broken"}`,
		`subtitled_input_bytes_total{channel="udp"}`,
		`subtitled_tr101290_errors_total{channel="a",indicator="1.4_continuity_count_error"} 0`,
		`subtitled_final_latency_seconds_count{channel="a"}`,
		`subtitled_websocket_clients`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	p.signal(syscall.SIGTERM)
	if err := p.wait(20 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
