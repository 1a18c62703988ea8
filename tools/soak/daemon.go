package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is a running `subtitled run`.
type daemon struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	http    *http.Client

	exited  chan struct{} // closed when the process has been waited for
	exitErr error         // set before exited is closed

	logs *logStats
}

// logStats counts the daemon's warning and error log lines and keeps the
// first few distinct messages of each.
type logStats struct {
	mu     sync.Mutex
	counts map[string]int      // by level
	first  map[string][]string // level → distinct messages, in order
	seen   map[string]bool
}

const keepLogMessages = 12

var (
	levelRE = regexp.MustCompile(`\blevel=(\w+)`)
	msgRE   = regexp.MustCompile(`\bmsg=("(?:[^"\\]|\\.)*"|\S+)`)
)

func (l *logStats) line(s string) {
	m := levelRE.FindStringSubmatch(s)
	if m == nil {
		return
	}
	level := strings.ToUpper(m[1])
	if level != "WARN" && level != "ERROR" {
		return
	}
	msg := s
	if mm := msgRE.FindStringSubmatch(s); mm != nil {
		msg = mm[1]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[level]++
	if k := level + msg; !l.seen[k] && len(l.first[level]) < keepLogMessages {
		l.seen[k] = true
		l.first[level] = append(l.first[level], s)
	}
}

func (l *logStats) snapshot() (map[string]int, map[string][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := map[string]int{}
	first := map[string][]string{}
	for k, v := range l.counts {
		counts[k] = v
	}
	for k, v := range l.first {
		first[k] = append([]string(nil), v...)
	}
	return counts, first
}

// freeAddr picks a free loopback TCP address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startDaemon runs `bin run --config cfg --listen addr` in dir, its output
// going to logPath.
func startDaemon(bin, cfg, addr, dir, logPath string) (*daemon, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	d := &daemon{
		addr: addr, logPath: logPath,
		http:   &http.Client{Timeout: 15 * time.Second},
		exited: make(chan struct{}),
		logs:   &logStats{counts: map[string]int{}, first: map[string][]string{}, seen: map[string]bool{}},
	}
	d.cmd = exec.Command(bin, "run", "--config", cfg, "--listen", addr)
	d.cmd.Dir = dir
	d.cmd.Stdout = logFile
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			d.logs.line(line)
			fmt.Fprintln(logFile, line)
		}
		// Drain whatever a too-long line left, so the daemon never blocks.
		_, _ = io.Copy(logFile, stderr)
		d.exitErr = d.cmd.Wait()
		logFile.Close()
		close(d.exited)
	}()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// running reports whether the process has not exited yet.
func (d *daemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// get fetches path and returns the status code and body.
func (d *daemon) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitReady polls /readyz until it answers 200.
func (d *daemon) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		code, body, err := d.get(ctx, "/readyz")
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %s", code, strings.TrimSpace(string(body)))
		}
		select {
		case <-d.exited:
			return fmt.Errorf("daemon exited before it was ready (%v); see %s", d.exitErr, d.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("daemon not ready after %s: /readyz: %s", timeout, last)
		}
	}
}

// metrics scrapes /metrics.
func (d *daemon) metrics(ctx context.Context) (*scrape, error) {
	code, body, err := d.get(ctx, "/metrics")
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: HTTP %d", code)
	}
	return parseMetrics(string(body))
}

// channelStatus is the part of a /v1/channels entry the soak checks.
type channelStatus struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
	LastCue  map[string]*struct {
		ID uint64 `json:"id"`
	} `json:"last_cue"`
}

// lastCueID is the id of the channel's newest cue on track, 0 when none.
func (c channelStatus) lastCueID(track string) uint64 {
	if lc := c.LastCue[track]; lc != nil {
		return lc.ID
	}
	return 0
}

// channels fetches /v1/channels by channel id.
func (d *daemon) channels(ctx context.Context) (map[string]channelStatus, error) {
	code, body, err := d.get(ctx, "/v1/channels")
	if err != nil {
		return nil, fmt.Errorf("GET /v1/channels: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/channels: HTTP %d", code)
	}
	var v struct {
		Channels []channelStatus `json:"channels"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("GET /v1/channels: %w", err)
	}
	out := make(map[string]channelStatus, len(v.Channels))
	for _, c := range v.Channels {
		out[c.ID] = c
	}
	return out, nil
}

// terminate sends SIGTERM and waits up to timeout for the exit; after that
// it kills the process. It returns the exit code (-1 when killed or
// signalled) and how long the exit took.
func (d *daemon) terminate(timeout time.Duration) (code int, took time.Duration, err error) {
	start := time.Now()
	if d.running() {
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return -1, 0, fmt.Errorf("SIGTERM: %w", err)
		}
	}
	select {
	case <-d.exited:
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return -1, time.Since(start), fmt.Errorf("daemon did not exit within %s of SIGTERM; killed", timeout)
	}
	took = time.Since(start)
	return d.cmd.ProcessState.ExitCode(), took, nil
}

// kill ends the process without ceremony (for errors before the run).
func (d *daemon) kill() {
	if d.running() {
		_ = d.cmd.Process.Kill()
	}
	<-d.exited
}
