// Command whipload measures what WHIP ingest costs per session: it starts
// the server side (ingest/webrtc.Server with N channels whose OnPacket only
// counts) as a child process of itself, connects N pion publishers over
// loopback that send Opus at real time, and samples the child's CPU time
// and RSS from /proc over the measurement window.
//
//	whipload -sessions 50 -seconds 30 [-warmup 5] [-ogg FILE]
//
// Without -ogg it generates 10 s of a 440 Hz sine as 32 kb/s Ogg Opus with
// ffmpeg. The child mode (-serve) is internal.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	whip "github.com/subtitled/subtitled/ingest/webrtc"
)

type options struct {
	serve    bool
	addr     string
	sessions int
	seconds  int
	warmup   int
	ogg      string
	token    string
	verbose  bool
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("whipload", flag.ContinueOnError)
	fs.BoolVar(&o.serve, "serve", false, "run the server side (internal: the load run starts it)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address for -serve")
	fs.IntVar(&o.sessions, "sessions", 50, "concurrent WHIP sessions (channels)")
	fs.IntVar(&o.seconds, "seconds", 30, "measurement window in seconds")
	fs.IntVar(&o.warmup, "warmup", 5, "seconds between all sessions connected and the measurement")
	fs.StringVar(&o.ogg, "ogg", "", "Ogg Opus file to send (default: generate one with ffmpeg)")
	fs.StringVar(&o.token, "token", "", "bearer token (internal)")
	fs.BoolVar(&o.verbose, "v", false, "log more")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.sessions < 1 || o.seconds < 1 || o.warmup < 0 {
		return o, errors.New("-sessions and -seconds must be ≥ 1, -warmup ≥ 0")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	if o.serve {
		err = serve(o, os.Stdin, os.Stdout)
	} else {
		var res result
		res, err = run(context.Background(), o, os.Stderr)
		if err == nil {
			res.print(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "whipload:", err)
		os.Exit(1)
	}
}

func logger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// childStats is what the child reports on GET /stats.
type childStats struct {
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	Sessions  int    `json:"sessions"`
	Connected int    `json:"connected"`
	Lost      uint64 `json:"lost"`
	Late      uint64 `json:"late"`
	Reordered uint64 `json:"reordered"`
	Reaped    uint64 `json:"reaped"`
}

// serve runs the server side until stdin closes (the parent went away) or
// a signal arrives. It prints "ADDR host:port" once it listens.
func serve(o options, stdin io.Reader, stdout io.Writer) error {
	if o.token == "" {
		return errors.New("-serve needs -token")
	}
	srv, err := whip.NewServer(whip.Config{
		MaxSessions: o.sessions,
		ICE:         whip.ICEConfig{Loopback: true, Interfaces: []string{"lo"}},
		Logger:      logger(o.verbose),
	})
	if err != nil {
		return err
	}
	var packets, bytes atomic.Uint64
	for i := 0; i < o.sessions; i++ {
		srv.SetPublisher(channelName(i), whip.Publisher{
			Token: o.token,
			OnPacket: func(p whip.Packet) {
				packets.Add(1)
				bytes.Add(uint64(len(p.Data)))
			},
		})
	}
	mux := http.NewServeMux()
	mux.Handle(whip.PathPrefix, srv)
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		st := srv.Stats()
		cs := childStats{Packets: packets.Load(), Bytes: bytes.Load(), Sessions: st.Sessions, Reaped: st.Reaped}
		for _, c := range st.Channels {
			if c.Connected {
				cs.Connected++
			}
			cs.Lost += c.Lost
			cs.Late += c.Late
			cs.Reordered += c.Reordered
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(cs)
	})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	fmt.Fprintf(stdout, "ADDR %s\n", ln.Addr())

	stop := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stdin); close(stop) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case <-stop:
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(ctx)
	return srv.Close()
}

func channelName(i int) string { return fmt.Sprintf("load%03d", i) }

// child is the server process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startChild(o options, token string, logw io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-serve", "-addr", "127.0.0.1:0", "-sessions", fmt.Sprint(o.sessions), "-token", token}
	if o.verbose {
		args = append(args, "-v")
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = logw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		c.stop()
		return nil, fmt.Errorf("child did not report its address (%q): %v", line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	return c, nil
}

// childEnv marks the child process (the test binary uses it to act as the
// command).
const childEnv = "WHIPLOAD_CHILD"

func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

func (c *child) stats() (childStats, error) {
	var cs childStats
	resp, err := http.Get("http://" + c.addr + "/stats")
	if err != nil {
		return cs, err
	}
	defer resp.Body.Close()
	return cs, json.NewDecoder(resp.Body).Decode(&cs)
}

// result is one load run's figures.
type result struct {
	Sessions, Connected int
	Window              time.Duration
	Input               string
	PacketsPerSec       float64 // received by the child, all sessions
	SentPerSec          float64 // sent by the publishers, all sessions
	CPUPercent          float64 // of one core, whole child
	RSSBefore, RSSAvg   float64 // MiB
	RSSMax              float64 // MiB
	Lost, Late          uint64
}

func (r result) cpuPerSession() float64 { return r.CPUPercent / float64(r.Sessions) }
func (r result) rssPerSession() float64 { return (r.RSSAvg - r.RSSBefore) / float64(r.Sessions) }

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "input:                %s\n", r.Input)
	fmt.Fprintf(w, "sessions:             %d (connected %d)\n", r.Sessions, r.Connected)
	fmt.Fprintf(w, "window:               %.0f s\n", r.Window.Seconds())
	fmt.Fprintf(w, "packets received/s:   %.1f (%.2f per session; sent %.1f/s)\n",
		r.PacketsPerSec, r.PacketsPerSec/float64(r.Sessions), r.SentPerSec)
	fmt.Fprintf(w, "lost/late:            %d/%d\n", r.Lost, r.Late)
	fmt.Fprintf(w, "server CPU:           %.2f%% of one core (%.3f%% per session)\n", r.CPUPercent, r.cpuPerSession())
	fmt.Fprintf(w, "server RSS:           %.1f MiB before sessions, %.1f MiB average during (max %.1f)\n",
		r.RSSBefore, r.RSSAvg, r.RSSMax)
	fmt.Fprintf(w, "RSS per session:      %.2f MiB\n", r.rssPerSession())
}

// run is the load run: child server, publishers, warm-up, measurement.
func run(ctx context.Context, o options, logw io.Writer) (result, error) {
	res := result{Sessions: o.sessions, Window: time.Duration(o.seconds) * time.Second}
	oggPath := o.ogg
	res.Input = oggPath
	if oggPath == "" {
		dir, err := os.MkdirTemp("", "whipload")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		if oggPath, err = makeOgg(dir); err != nil {
			return res, err
		}
		res.Input = "generated: 10 s 440 Hz sine, libopus 32 kb/s"
	}
	packets, err := loadPackets(oggPath)
	if err != nil {
		return res, err
	}

	token := randomToken()
	c, err := startChild(o, token, logw)
	if err != nil {
		return res, err
	}
	defer c.stop()
	pid := c.cmd.Process.Pid
	time.Sleep(time.Second) // let the child settle before the baseline
	if res.RSSBefore, err = rssMiB(pid); err != nil {
		return res, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	api := publisherAPI()
	pubs := make([]*loadPublisher, o.sessions)
	var sent atomic.Uint64
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		for _, p := range pubs {
			if p != nil {
				p.close()
			}
		}
	}()
	endpoint := "http://" + c.addr + whip.PathPrefix
	for i := range pubs {
		p, err := newLoadPublisher(api, endpoint+channelName(i), token)
		if err != nil {
			return res, fmt.Errorf("publisher %d: %w", i, err)
		}
		pubs[i] = p
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Spread the senders over one packet interval.
			p.send(ctx, packets, time.Duration(i)*20*time.Millisecond/time.Duration(len(pubs)), &sent)
		}(i)
	}
	for i, p := range pubs {
		select {
		case <-p.connected:
		case <-time.After(30 * time.Second):
			return res, fmt.Errorf("publisher %d did not connect", i)
		}
	}
	time.Sleep(time.Duration(o.warmup) * time.Second)

	st0, err := c.stats()
	if err != nil {
		return res, err
	}
	cpu0, err := cpuTicks(pid)
	if err != nil {
		return res, err
	}
	sent0 := sent.Load()
	t0 := time.Now()
	var rssSum float64
	var rssN int
	for time.Since(t0) < res.Window {
		time.Sleep(time.Second)
		rss, err := rssMiB(pid)
		if err != nil {
			return res, err
		}
		rssSum += rss
		rssN++
		res.RSSMax = max(res.RSSMax, rss)
	}
	cpu1, err := cpuTicks(pid)
	if err != nil {
		return res, err
	}
	elapsed := time.Since(t0).Seconds()
	st1, err := c.stats()
	if err != nil {
		return res, err
	}
	res.Connected = st1.Connected
	res.PacketsPerSec = float64(st1.Packets-st0.Packets) / elapsed
	res.SentPerSec = float64(sent.Load()-sent0) / elapsed
	res.CPUPercent = float64(cpu1-cpu0) / float64(clockTicks()) / elapsed * 100
	res.RSSAvg = rssSum / float64(rssN)
	res.Lost, res.Late = st1.Lost, st1.Late
	return res, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
