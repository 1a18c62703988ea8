package cmalloc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The settings are made when the program is loaded, so each case runs in a
// fresh process: the test binary re-executed with childEnv set, running
// TestChild, which prints a childReport.

const childEnv = "CMALLOC_TEST_CHILD"

// childThreads is how many OS threads the child starts, each allocating
// from C: more than DefaultArenaMax, fewer than glibc's own limit.
const childThreads = 12

type childReport struct {
	Settings      Settings
	Err           string
	Before, After int // arenas before and after the threads
}

func runChild(t *testing.T, env map[string]string) childReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = []string{childEnv + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MALLOC_") && !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if js, ok := strings.CutPrefix(l, "report "); ok {
			var r childReport
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				t.Fatalf("child report %q: %v", js, err)
			}
			return r
		}
	}
	t.Fatalf("child printed no report:\n%s", out)
	return childReport{}
}

// TestChild is the child process of the other tests; run directly it does
// nothing.
func TestChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		return
	}
	var r childReport
	s, err := Applied()
	r.Settings = s
	if err != nil {
		r.Err = err.Error()
	}
	r.Before = arenas(t)
	var ready, release, done sync.WaitGroup
	ready.Add(childThreads)
	release.Add(1)
	for range childThreads {
		done.Add(1)
		go func() {
			defer done.Done()
			// A locked goroutine that waits holds its thread, so the
			// runtime starts a new one for the next.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			touch()
			ready.Done()
			release.Wait()
		}()
	}
	ready.Wait()
	r.After = arenas(t)
	release.Done()
	done.Wait()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("report " + string(js))
}

func arenas(t *testing.T) int {
	t.Helper()
	st, err := ReadStats()
	if err != nil || st.Arenas == 0 {
		t.Fatalf("ReadStats = %+v, %v", st, err)
	}
	return st.Arenas
}

func TestApplied(t *testing.T) {
	defaults := Settings{ArenaMax: DefaultArenaMax, MmapThreshold: DefaultMmapThreshold}
	tests := []struct {
		name string
		env  map[string]string
		want Settings
	}{
		{"defaults", nil, defaults},
		{"empty values", map[string]string{"MALLOC_ARENA_MAX": "", "MALLOC_MMAP_THRESHOLD_": "", "GLIBC_TUNABLES": ""}, defaults},
		{"arena env", map[string]string{"MALLOC_ARENA_MAX": "8"},
			Settings{MmapThreshold: DefaultMmapThreshold, Kept: []string{"MALLOC_ARENA_MAX"}}},
		{"mmap env", map[string]string{"MALLOC_MMAP_THRESHOLD_": "65536"},
			Settings{ArenaMax: DefaultArenaMax, Kept: []string{"MALLOC_MMAP_THRESHOLD_"}}},
		{"both tunables", map[string]string{"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=4:glibc.malloc.mmap_threshold=1048576"},
			Settings{Kept: []string{"GLIBC_TUNABLES", "GLIBC_TUNABLES"}}},
		{"arena tunable last", map[string]string{"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=4"},
			Settings{MmapThreshold: DefaultMmapThreshold, Kept: []string{"GLIBC_TUNABLES"}}},
		{"look-alike tunables", map[string]string{"GLIBC_TUNABLES": "glibc.malloc.arena_test=2:glibc.malloc.mmap_max=0:glibc.malloc.arena_maxx=1:xglibc.malloc.mmap_threshold=1"}, defaults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runChild(t, tt.env)
			if r.Err != "" {
				t.Fatalf("Applied: %s", r.Err)
			}
			got := r.Settings
			if got.ArenaMax != tt.want.ArenaMax || got.MmapThreshold != tt.want.MmapThreshold || !slices.Equal(got.Kept, tt.want.Kept) {
				t.Errorf("Applied = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestArenasBounded checks that the threads of a process share at most
// DefaultArenaMax arenas, and that without the limit (an explicit larger
// one) the same threads do get arenas of their own, so that the first
// check can fail.
func TestArenasBounded(t *testing.T) {
	r := runChild(t, nil)
	t.Logf("default: %d arenas before %d threads, %d after", r.Before, childThreads, r.After)
	if r.After > DefaultArenaMax {
		t.Errorf("%d arenas after %d threads allocated, want at most %d", r.After, childThreads, DefaultArenaMax)
	}
	r = runChild(t, map[string]string{"MALLOC_ARENA_MAX": "64"})
	t.Logf("MALLOC_ARENA_MAX=64: %d arenas before %d threads, %d after", r.Before, childThreads, r.After)
	if r.After <= DefaultArenaMax || r.After <= r.Before {
		t.Errorf("with MALLOC_ARENA_MAX=64, %d arenas before and %d after %d threads allocated: the threads did not get arenas of their own, so the bounded case proves nothing",
			r.Before, r.After, childThreads)
	}
}

func TestReadStats(t *testing.T) {
	st, err := ReadStats()
	if err != nil {
		t.Fatalf("ReadStats: %v (the tests run on Linux with glibc and cgo)", err)
	}
	if st.InUse == 0 || st.Arenas < 1 || st.Arenas > DefaultArenaMax {
		t.Errorf("ReadStats = %+v, want bytes in use and 1 to %d arenas", st, DefaultArenaMax)
	}
	if _, err := Applied(); err != nil && !errors.Is(err, ErrMallopt) {
		t.Errorf("Applied: %v", err)
	}
}
