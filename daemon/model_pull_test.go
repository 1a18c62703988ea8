package daemon_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/models/catalog"
)

// modelTarBz2 is a small model package (one top-level directory) as a
// .tar.bz2, made with the bzip2 tool.
func modelTarBz2(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"pkg/tokens.txt", "<blk> 0\na 1\n"},
		{"pkg/model.onnx", strings.Repeat("weights ", 20000)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	bz, err := exec.LookPath("bzip2")
	if err != nil {
		t.Fatalf("the bzip2 command is required by this test (Debian package bzip2): %v", err)
	}
	cmd := exec.Command(bz, "-c")
	cmd.Stdin = &buf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tarServer serves data at every path; with cut > 0 its first response
// drops the connection after cut bytes. It records the Range headers.
type tarServer struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
	cut    int
}

func newTarServer(t *testing.T, data []byte, cut int) *tarServer {
	s := &tarServer{cut: cut}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		cut := s.cut
		s.cut = 0
		s.mu.Unlock()
		if cut > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:cut])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "m.tar.bz2", time.Unix(1_700_000_000, 0), bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *tarServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

func TestModelList(t *testing.T) {
	out, errOut, code := subtitled(t, nil, "model", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, e := range catalog.Entries() {
		line := ""
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, e.Name+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("no line for %s in:\n%s", e.Name, out)
			continue
		}
		for _, want := range []string{e.Family, e.Licence, "MiB", "pinned " + e.SHA256[:12]} {
			if !strings.Contains(line, want) {
				t.Errorf("%s line %q lacks %q", e.Name, line, want)
			}
		}
	}
}

func TestModelPullCLI(t *testing.T) {
	data := modelTarBz2(t)
	good := hexSum(data)
	srv := newTarServer(t, data, 0)
	url := srv.URL + "/tiny-model.tar.bz2"
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    []string // substrings; DIR stands for the models directory
		stderr    []string
		installed string // directory that must exist afterwards, "" for none
	}{
		{"url with sha256", []string{"--url", url, "--sha256", good}, 0,
			[]string{"verified: sha256 " + good, "installed to DIR/tiny-model; run `subtitled model info DIR/tiny-model`"}, []string{"download", "done"}, "tiny-model"},
		{"url with a name", []string{"mine", "--url", url, "--sha256", strings.ToUpper(good), "--quiet"}, 0,
			[]string{"installed to DIR/mine;"}, nil, "mine"},
		{"wrong sha256", []string{"--url", url, "--sha256", strings.Repeat("0", 64)}, 1,
			nil, []string{"sha256 mismatch", "expected " + strings.Repeat("0", 64), "got " + good}, ""},
		{"url without a checksum", []string{"--url", url}, 1,
			nil, []string{"no sha256 checksum", "--sha256 HEX", "--insecure-no-checksum"}, ""},
		{"insecure", []string{"--url", url, "--insecure-no-checksum"}, 0,
			[]string{"installed to DIR/tiny-model;"}, []string{"WARNING", "NOT VERIFIED", good}, "tiny-model"},
		{"unknown name", []string{"whisper-large"}, 1,
			nil, []string{`unknown model "whisper-large"`, "zipformer-en-2023-06-26"}, ""},
		{"bad sha256", []string{"--url", url, "--sha256", "xyz"}, 2, nil, []string{"invalid sha256"}, ""},
		{"no name", nil, 2, nil, []string{"model pull NAME"}, ""},
		// A mirror serving something else than the pinned asset: refused.
		{"catalogue entry via a mirror", []string{"zipformer-en-2023-06-26", "--mirror", srv.URL + "/mirror/"}, 1,
			nil, []string{"/mirror/sherpa-onnx-streaming-zipformer-en-2023-06-26.tar.bz2", "catalogue expects 310414022"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "models")
			args := append([]string{"model", "pull", "--dir", dir}, tt.args...)
			out, errOut, code := subtitled(t, nil, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.stdout {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(string(out), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(string(errOut), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			ents, _ := os.ReadDir(dir)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			want := []string(nil)
			if tt.installed != "" {
				want = []string{tt.installed}
			}
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Fatalf("%s holds %q, want %q", dir, names, want)
			}
			if tt.installed != "" {
				b, err := os.ReadFile(filepath.Join(dir, tt.installed, "tokens.txt"))
				if err != nil || string(b) != "<blk> 0\na 1\n" {
					t.Fatalf("tokens.txt: %q, %v", b, err)
				}
			}
		})
	}
}

func TestModelPullResumeAndForce(t *testing.T) {
	data := modelTarBz2(t)
	cut := len(data) / 2
	srv := newTarServer(t, data, cut)
	dir := filepath.Join(t.TempDir(), "models")
	t.Setenv("SUBTITLED_MODELS_DIR", dir) // the default --dir
	args := []string{"model", "pull", "tiny", "--url", srv.URL + "/tiny.tar.bz2", "--sha256", hexSum(data)}

	_, errOut, code := subtitled(t, nil, args...)
	if code != 1 || !strings.Contains(string(errOut), "run again to resume") {
		t.Fatalf("interrupted pull: exit %d, stderr %s", code, errOut)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tiny.tar.bz2.partial")); err != nil || fi.Size() != int64(cut) {
		t.Fatalf("partial file: %v, %v; want %d bytes", fi, err, cut)
	}

	out, errOut, code := subtitled(t, nil, args...)
	if code != 0 {
		t.Fatalf("resumed pull: exit %d, stderr %s", code, errOut)
	}
	if r := srv.seen(); len(r) != 2 || r[1] != "bytes="+strconv.Itoa(cut)+"-" {
		t.Fatalf("Range headers %q, want a second request with bytes=%d-", r, cut)
	}
	if !strings.Contains(string(errOut), "resumed at") || !strings.Contains(string(out), "installed to "+filepath.Join(dir, "tiny")) {
		t.Fatalf("stdout %s\nstderr %s", out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "tiny.tar.bz2.partial")); !os.IsNotExist(err) {
		t.Fatalf("partial file left after install: %v", err)
	}

	// Installed already: refused without --force, replaced with it.
	_, errOut, code = subtitled(t, nil, args...)
	if code != 1 || !strings.Contains(string(errOut), "already exists") || !strings.Contains(string(errOut), "--force") {
		t.Fatalf("second pull: exit %d, stderr %s", code, errOut)
	}
	if _, errOut, code = subtitled(t, nil, append(args, "--force")...); code != 0 {
		t.Fatalf("pull --force: exit %d, stderr %s", code, errOut)
	}
}
