package daemon

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCueStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := openCueState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.load("news"); err != nil || len(got) != 0 {
		t.Fatalf("fresh state: %v %v", got, err)
	}
	want := map[string]uint64{"verbatim": 42, "subtitle": 17}
	if err := s.save("news", want); err != nil {
		t.Fatal(err)
	}
	if err := s.save("news", map[string]uint64{"verbatim": 43, "subtitle": 17}); err != nil {
		t.Fatal(err)
	}
	// A second process (a fresh cueState) reads the last save.
	s2, err := openCueState(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.load("news")
	if err != nil || !reflect.DeepEqual(got, map[string]uint64{"verbatim": 43, "subtitle": 17}) {
		t.Fatalf("load %v %v", got, err)
	}
	// No temporary files are left behind.
	left, _ := filepath.Glob(filepath.Join(dir, "channels", ".*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	s2.forget("news")
	if got, _ := s2.load("news"); len(got) != 0 {
		t.Fatalf("after forget: %v", got)
	}
}

func TestCueStateErrors(t *testing.T) {
	var none *cueState
	if err := none.save("x", map[string]uint64{"verbatim": 1}); err != nil {
		t.Fatal(err)
	}
	if got, err := none.load("x"); err != nil || len(got) != 0 {
		t.Fatalf("nil state load: %v %v", got, err)
	}
	if s, err := openCueState(""); s != nil || err != nil {
		t.Fatalf("empty dir: %v %v", s, err)
	}
	// A file where the directory should be: the error names state_dir.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openCueState(f); err == nil || !strings.Contains(err.Error(), "state_dir "+f) {
		t.Fatalf("unwritable state_dir: %v", err)
	}
	// A damaged file is reported with its path; IDs restart from empty.
	dir := t.TempDir()
	s, _ := openCueState(dir)
	if err := os.WriteFile(s.path("bad"), []byte("{nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := s.load("bad"); err == nil || !strings.Contains(err.Error(), s.path("bad")) || len(got) != 0 {
		t.Fatalf("damaged state: %v %v", got, err)
	}
}

func TestStateDirFromSystemd(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/subtitled:/var/lib/other")
	if got := stateDir(""); got != "/var/lib/subtitled" {
		t.Fatalf("stateDir from STATE_DIRECTORY: %q", got)
	}
	if got := stateDir("/srv/state"); got != "/srv/state" {
		t.Fatalf("configured state_dir: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	if got := stateDir(""); got != "" {
		t.Fatalf("no state dir: %q", got)
	}
}
