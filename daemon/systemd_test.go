package daemon

import (
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subtitled/subtitled/tools/testenv"
)

// unitWithBinary returns the unit text with ExecStart pointing at an
// existing executable, so that `systemd-analyze verify` can check it.
func unitWithBinary(t *testing.T, extra string) string {
	t.Helper()
	b, err := os.ReadFile(testenv.Path("systemd", "subtitled.service"))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), "/usr/bin/subtitled", exe)
	path := filepath.Join(t.TempDir(), "subtitled.service")
	if err := os.WriteFile(path, []byte(unit+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func systemdAnalyze(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is required (Debian package systemd; tools/setup-debian.sh)")
	}
	out, err := exec.Command("systemd-analyze", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

func TestSystemdUnitVerifiesAndIsHardened(t *testing.T) {
	gpu, err := os.ReadFile(testenv.Path("systemd", "gpu.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, extra string }{
		{"cpu", ""},
		{"gpu drop-in", "\n" + string(gpu)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unit := unitWithBinary(t, tc.extra)
			systemdAnalyze(t, "verify", unit)
			out := systemdAnalyze(t, "security", "--offline=true", unit)
			m := exposure.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no exposure level in:\n%s", out)
			}
			score, _ := strconv.ParseFloat(m[1], 64)
			t.Logf("exposure %.1f", score)
			if score > 2.0 {
				t.Fatalf("exposure %.1f > 2.0:\n%s", score, out)
			}
		})
	}
}

// fakeNotify listens on a unixgram socket as systemd would and counts the
// WATCHDOG=1 datagrams.
func fakeNotify(t *testing.T) (*atomic.Int64, chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	var pings atomic.Int64
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			m := string(buf[:n])
			if m == "WATCHDOG=1" {
				pings.Add(1)
			}
			select {
			case msgs <- m:
			default:
			}
		}
	}()
	return &pings, msgs
}

func TestWatchdogPingsOnlyWhileProgressing(t *testing.T) {
	pings, msgs := fakeNotify(t)
	t.Setenv("WATCHDOG_USEC", "40000") // 40 ms: pings every 20 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := newNotifier(slog.New(slog.NewTextHandler(io.Discard, nil)))
	n.ready()
	if m := <-msgs; m != "READY=1" {
		t.Fatalf("first message %q, want READY=1", m)
	}
	var progressing atomic.Bool
	progressing.Store(true)
	stop := n.watchdog(progressing.Load)
	defer stop()
	waitFor(t, func() bool { return pings.Load() >= 3 }, "watchdog pings while the pipeline progresses")
	progressing.Store(false)           // the pipeline stalls
	time.Sleep(300 * time.Millisecond) // a ping decided just before may still be in flight
	before := pings.Load()
	time.Sleep(200 * time.Millisecond) // ten intervals
	if after := pings.Load(); after != before {
		t.Fatalf("%d watchdog pings while stalled", after-before)
	}
	progressing.Store(true)
	waitFor(t, func() bool { return pings.Load() > before }, "pings resume with progress")
}

func TestWatchdogOffWithoutSystemd(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	n := newNotifier(slog.New(slog.NewTextHandler(io.Discard, nil)))
	called := false
	stop := n.watchdog(func() bool { called = true; return true })
	time.Sleep(20 * time.Millisecond)
	stop()
	if called {
		t.Fatal("watchdog ran without WATCHDOG_USEC")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
