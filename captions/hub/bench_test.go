package hub

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/subtitled/subtitled/captions"
)

// The benchmarks run their WebSocket clients in a child process (this test
// binary, re-executed with benchClientsEnv set) so that the CPU time and
// memory they measure are the server's alone.
const benchClientsEnv = "SUBTITLED_HUB_BENCH_CLIENTS"

// runBenchClients runs the client side when this process is such a child;
// it returns false otherwise.
func runBenchClients() bool {
	spec := os.Getenv(benchClientsEnv)
	if spec == "" {
		return false
	}
	os.Exit(benchClients(spec))
	return true
}

// benchClients connects n clients to url, reads each hello, prints
// "ready", then either reads until the server closes every connection
// (mode "read") or holds the connections without reading until stdin
// closes (mode "idle").
func benchClients(spec string) int {
	f := strings.Fields(spec) // url n mode
	if len(f) != 3 {
		fmt.Fprintln(os.Stderr, "bench clients: bad spec", spec)
		return 2
	}
	n, _ := strconv.Atoi(f[1])
	conns := make([]*websocket.Conn, 0, n)
	for range n {
		c, _, err := websocket.DefaultDialer.Dial(f[0], nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench clients: dial:", err)
			return 1
		}
		if _, _, err := c.ReadMessage(); err != nil {
			fmt.Fprintln(os.Stderr, "bench clients: hello:", err)
			return 1
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	if f[2] == "idle" {
		_, _ = io.Copy(io.Discard, os.Stdin)
		for _, c := range conns {
			c.Close()
		}
		return 0
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return 0
}

// startBenchClients starts the child and waits until its clients are
// connected. Closing stdin ends an idle child.
func startBenchClients(b *testing.B, url string, n int, mode string) (*exec.Cmd, io.WriteCloser) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", benchClientsEnv, url, n, mode))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		stdin.Close()
		_ = cmd.Wait()
		b.Fatalf("bench clients: %q %v", line, err)
	}
	return cmd, stdin
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFanout1000 publishes b.N cues to 1,000 clients on loopback and
// reports deliveries per second of server CPU time (publisher, writers and
// readers; the clients run in another process).
func BenchmarkFanout1000(b *testing.B) {
	const clients = 1000
	h := New(Options{MaxClients: -1, MaxClientsPerIP: -1,
		Channel: ChannelOptions{Queue: b.N + 8}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ch := h.Channel("bench")
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/channels/bench/captions"
	cmd, stdin := startBenchClients(b, url, clients, "read")
	defer stdin.Close()
	for h.Stats().Clients != clients {
		time.Sleep(time.Millisecond)
	}
	// A typical two-line cue: the message is about 250 bytes.
	cue := captions.Cue{Track: verbatim,
		Lines:   []string{"Good evening and welcome to the", "six o'clock news from the studio."},
		Emitted: time.Now()}
	base := h.Stats().Deliveries
	runtime.GC()
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for i := range b.N {
		cue.ID = uint64(i + 1)
		cue.Start, cue.End = int64(i)*90000, int64(i)*90000+180000
		if err := ch.PublishCue(cue); err != nil {
			b.Fatal(err)
		}
	}
	want := base + uint64(b.N)*clients
	for h.Stats().Deliveries < want {
		if h.Stats().SlowClientDisconnects > 0 {
			b.Fatal("a client overflowed")
		}
		time.Sleep(500 * time.Microsecond)
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	d := float64(b.N * clients)
	b.ReportMetric(d/cpu.Seconds(), "deliveries/cpu-s")
	b.ReportMetric(d/wall.Seconds(), "deliveries/s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		b.Error(err)
	}
	if err := cmd.Wait(); err != nil {
		b.Error("bench clients:", err)
	}
}

// BenchmarkIdleClientMemory connects 1,000 idle clients (another process)
// and reports the server's memory per client: heap in use plus goroutine
// stacks, and the growth of memory obtained from the OS.
func BenchmarkIdleClientMemory(b *testing.B) {
	const clients = 1000
	h := New(Options{MaxClients: -1, MaxClientsPerIP: -1})
	srv := httptest.NewServer(h)
	defer srv.Close()
	h.Channel("bench")
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/channels/bench/captions"
	var live, sys float64
	for range b.N {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		cmd, stdin := startBenchClients(b, url, clients, "idle")
		for h.Stats().Clients != clients {
			time.Sleep(time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		live += float64(m1.HeapInuse+m1.StackInuse) - float64(m0.HeapInuse+m0.StackInuse)
		sys += float64(m1.Sys) - float64(m0.Sys)
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Error("bench clients:", err)
		}
		for h.Stats().Clients != 0 {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(live/float64(b.N*clients), "B/idle-client")
	b.ReportMetric(sys/float64(b.N*clients), "sys-B/idle-client")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		b.Error(err)
	}
}
