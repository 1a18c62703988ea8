package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Tool returns the path of an external program the tests need, failing the
// test with an install hint when it is missing (CI installs every tool
// through tools/setup-debian.sh; a missing one is a broken set-up, not a
// reason to skip).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: the tests need it (tools/setup-debian.sh installs it)", name)
	}
	return p
}

// Fixtures makes test input files with ffmpeg once per test binary and
// caches them (and their failures) by name.
type Fixtures struct {
	prefix string
	mu     sync.Mutex
	dir    string
	errs   map[string]error
}

// NewFixtures returns an empty cache whose directory name starts with prefix.
func NewFixtures(prefix string) *Fixtures {
	return &Fixtures{prefix: prefix, errs: map[string]error{}}
}

// FFmpeg runs `ffmpeg ARGS NAME` the first time name is asked for and
// returns the file's path.
func (f *Fixtures) FFmpeg(t testing.TB, name string, args ...string) string {
	t.Helper()
	ff := Tool(t, "ffmpeg")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dir == "" {
		dir, err := os.MkdirTemp("", f.prefix)
		if err != nil {
			t.Fatal(err)
		}
		f.dir = dir
	}
	path := filepath.Join(f.dir, name)
	if err, done := f.errs[name]; done {
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	cmd := exec.Command(ff, append(append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...), path)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	f.errs[name] = err
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Cleanup removes the cached files.
func (f *Fixtures) Cleanup() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dir != "" {
		os.RemoveAll(f.dir)
		f.dir = ""
	}
}

// DecodeTeletext decodes one teletext subtitle page of the TS file at path
// with ffmpeg/libzvbi and returns it as SRT. extra options go before -i
// (for example "-fix_teletext_pts", "0").
func DecodeTeletext(t testing.TB, path, page string, extra ...string) []byte {
	t.Helper()
	args := append([]string{"-nostdin", "-v", "error", "-txt_format", "text", "-txt_page", page, "-fix_sub_duration"}, extra...)
	args = append(args, "-i", path, "-map", "0:s:0", "-c:s", "srt", "-f", "srt", "-")
	cmd := exec.Command(Tool(t, "ffmpeg"), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg teletext decode of %s: %v\n%s", path, err, stderr.String())
	}
	return out
}
