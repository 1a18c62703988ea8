package catalog

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tarEntry is one member of a test archive.
type tarEntry struct {
	name, body, link string
	typ              byte // 0: regular file
	mode             int64
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1_700_000_000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bz2 compresses data with the bzip2 command-line tool (the standard
// library can only decompress).
func bz2(t testing.TB, data []byte) []byte {
	t.Helper()
	path, err := exec.LookPath("bzip2")
	if err != nil {
		t.Fatalf("the bzip2 command is required by these tests (Debian package bzip2): %v", err)
	}
	cmd := exec.Command(path, "-c", "-9")
	cmd.Stdin = bytes.NewReader(data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bzip2: %v: %s", err, stderr.String())
	}
	return out.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// modelFiles is the content of a small model package with a single
// top-level directory, as sherpa-onnx packages are laid out.
var modelFiles = []tarEntry{
	{name: "pkg/", typ: tar.TypeDir},
	{name: "pkg/tokens.txt", body: "<blk> 0\na 1\nb 2\n"},
	{name: "pkg/model.onnx", body: strings.Repeat("onnx-bytes ", 5000)},
	{name: "pkg/test_wavs/", typ: tar.TypeDir},
	{name: "pkg/test_wavs/trans.txt", body: "hello\n"},
	{name: "pkg/run.sh", body: "#!/bin/sh\n", mode: 0o755},
	{name: "pkg/latest.onnx", typ: tar.TypeSymlink, link: "model.onnx"},
}

// fixture returns a .tar.bz2 of modelFiles.
func fixture(t testing.TB) []byte {
	t.Helper()
	return bz2(t, makeTar(t, modelFiles))
}

// server serves one archive and records the Range headers it saw.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	ranges   []string
	requests int
}

// behaviour is how a test server answers.
type behaviour int

const (
	honourRange behaviour = iota // http.ServeContent: 200, 206, 416
	ignoreRange                  // always 200 with the whole file
	dropAfter                    // 200, but the connection drops after cut bytes
	wrongRange                   // 206 that starts at 0 whatever was asked
)

func newServer(t *testing.T, data []byte, how behaviour, cut int) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		switch how {
		case honourRange:
			http.ServeContent(w, r, "m.tar.bz2", time.Unix(1_700_000_000, 0), bytes.NewReader(data))
		case ignoreRange:
			w.Header().Set("Content-Length", itoa(len(data)))
			w.Write(data)
		case dropAfter:
			w.Header().Set("Content-Length", itoa(len(data)))
			w.Write(data[:cut])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // closes the connection mid-body
		case wrongRange:
			w.Header().Set("Content-Range", "bytes 0-"+itoa(len(data)-1)+"/"+itoa(len(data)))
			w.Header().Set("Content-Length", itoa(len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) seen() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, append([]string(nil), s.ranges...)
}

func itoa(n int) string { return strconv.Itoa(n) }

// listTree returns every path under dir (relative, sorted), with "/" after
// directories and " -> target" after symlinks.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			rel += " -> " + l
		case fi.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
