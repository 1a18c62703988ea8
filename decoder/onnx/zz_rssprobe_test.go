package onnx

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func vmRSS(tb testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func threads() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// PROBE=fixed|vary|threads
func TestZZRSSProbe(t *testing.T) {
	mode := os.Getenv("PROBE")
	if mode == "" {
		t.Skip()
	}
	iters, _ := strconv.Atoi(os.Getenv("ITERS"))
	if iters == 0 {
		iters = 20000
	}
	b := &testing.B{}
	_ = b
	dir := repoRoot + "/models/demo-en"
	bu, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(bu, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := m.Contract()
	states := make([]*StreamState, 8)
	for i := range states {
		states[i] = m.NewStreamState()
	}
	x := demoWindows(c, 8)
	rng := rand.New(rand.NewPCG(1, 2))
	call := func() {
		n := 8
		if mode != "fixed" {
			n = 1 + rng.IntN(8)
		}
		if _, err := m.Run(x[:n*c.ChunkFrames*c.FeatureDim], states[:n]); err != nil {
			t.Error(err)
		}
	}
	var mu sync.Mutex
	for i := range iters + 1 {
		if mode == "threads" {
			// each call from a fresh locked OS thread, as a goroutine
			// migrating between Ms would
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				mu.Lock()
				call()
				mu.Unlock()
				if i%4 != 0 {
					runtime.UnlockOSThread()
				}
			}()
			wg.Wait()
		} else {
			call()
		}
		if i%(iters/10) == 0 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t.Logf("%s iter %d rss %d KiB heapInuse %d KiB threads %s", mode, i, vmRSS(t), ms.HeapInuse>>10, threads())
		}
	}
}
