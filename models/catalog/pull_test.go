package catalog

import (
	"archive/tar"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// wantInstalled is listTree of the installed model from modelFiles.
var wantInstalled = []string{
	"latest.onnx -> model.onnx",
	"model.onnx",
	"run.sh",
	"test_wavs/",
	"test_wavs/trans.txt",
	"tokens.txt",
}

// checkInstalled asserts dir holds modelFiles' package and dest nothing else.
func checkInstalled(t *testing.T, dest, name string) {
	t.Helper()
	dir := filepath.Join(dest, name)
	if got := listTree(t, dir); !reflect.DeepEqual(got, wantInstalled) {
		t.Fatalf("installed tree:\n got %q\nwant %q", got, wantInstalled)
	}
	b, err := os.ReadFile(filepath.Join(dir, "tokens.txt"))
	if err != nil || string(b) != "<blk> 0\na 1\nb 2\n" {
		t.Fatalf("tokens.txt = %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "run.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("run.sh mode %v, %v", fi.Mode(), err)
	}
	fi, err = os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("model dir mode %v, %v", fi.Mode(), err)
	}
	assertOnly(t, dest, name)
}

// assertOnly asserts dest holds exactly the named entries (no partial
// downloads, no temporary directories).
func assertOnly(t *testing.T, dest string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) == 0 && len(names) == 0 {
		return
	}
	if !reflect.DeepEqual(got, names) {
		t.Fatalf("%s holds %q, want %q", dest, got, names)
	}
}

func TestPullInstalls(t *testing.T) {
	raw := makeTar(t, modelFiles)
	flat := makeTar(t, []tarEntry{
		{name: "./", typ: tar.TypeDir},
		{name: "./tokens.txt", body: "<blk> 0\na 1\nb 2\n"},
		{name: "./model.onnx", body: strings.Repeat("onnx-bytes ", 5000)},
		{name: "./test_wavs/trans.txt", body: "hello\n"},
		{name: "./run.sh", body: "#!/bin/sh\n", mode: 0o755},
		{name: "./latest.onnx", typ: tar.TypeSymlink, link: "model.onnx"},
	})
	tests := []struct {
		name, path string
		data       []byte
	}{
		{"tar.bz2 with a top-level dir", "/m.tar.bz2", bz2(t, raw)},
		{"tar.gz", "/m.tar.gz", gz(t, raw)},
		{"plain tar", "/m.tar", raw},
		{"flat tar.bz2 without a top-level dir", "/flat.tar.bz2", bz2(t, flat)},
		{"URL without an extension", "/download?id=7", bz2(t, raw)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.data, honourRange, 0)
			dest := filepath.Join(t.TempDir(), "models")
			var phases []Phase
			var lastDownload Progress
			opts := Options{Progress: func(p Progress) {
				if p.Final {
					phases = append(phases, p.Phase)
				}
				if p.Phase == PhaseDownload {
					lastDownload = p
				}
			}}
			res, err := Pull(context.Background(), Entry{Name: "m1", URL: srv.URL + tt.path, SHA256: sum(tt.data)}, dest, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkInstalled(t, dest, "m1")
			if !res.Verified || res.SHA256 != sum(tt.data) || res.Bytes != int64(len(tt.data)) || res.Resumed != 0 || res.Dir != filepath.Join(dest, "m1") {
				t.Errorf("result %+v", res)
			}
			if want := []Phase{PhaseDownload, PhaseVerify, PhaseExtract}; !reflect.DeepEqual(phases, want) {
				t.Errorf("final progress phases %v, want %v", phases, want)
			}
			if lastDownload.Done != int64(len(tt.data)) || lastDownload.Total != int64(len(tt.data)) || lastDownload.Percent() != 100 {
				t.Errorf("last download progress %+v", lastDownload)
			}
		})
	}
}

func TestPullChecksumMismatch(t *testing.T) {
	data := fixture(t)
	srv := newServer(t, data, honourRange, 0)
	dest := t.TempDir()
	bad := strings.Repeat("ab", 32)
	_, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: bad}, dest, Options{})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	for _, want := range []string{"expected " + bad, "got " + sum(data)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	assertOnly(t, dest) // nothing installed, partial removed
}

func TestPullResume(t *testing.T) {
	data := fixture(t)
	cut := len(data) / 3
	dest := t.TempDir()
	e := Entry{Name: "m", SHA256: sum(data)}

	drop := newServer(t, data, dropAfter, cut)
	e.URL = drop.URL + "/m.tar.bz2"
	_, err := Pull(context.Background(), e, dest, Options{})
	if err == nil || !strings.Contains(err.Error(), "run again to resume") {
		t.Fatalf("interrupted pull: err = %v", err)
	}
	partial := filepath.Join(dest, "m.tar.bz2.partial")
	if fi, err := os.Stat(partial); err != nil || fi.Size() != int64(cut) {
		t.Fatalf("partial after the drop: %v, %v (want %d bytes)", fi, err, cut)
	}
	assertOnly(t, dest, "m.tar.bz2.partial")

	good := newServer(t, data, honourRange, 0)
	e.URL = good.URL + "/m.tar.bz2"
	var start int64 = -1
	res, err := Pull(context.Background(), e, dest, Options{Progress: func(p Progress) {
		if p.Phase == PhaseDownload && start < 0 {
			start = p.Start
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n, ranges := good.seen(); n != 1 || ranges[0] != "bytes="+itoa(cut)+"-" {
		t.Errorf("server saw %d requests with Range %q, want one with bytes=%d-", n, ranges, cut)
	}
	if res.Resumed != int64(cut) || start != int64(cut) {
		t.Errorf("resumed %d, progress start %d, want %d", res.Resumed, start, cut)
	}
	checkInstalled(t, dest, "m")
}

// TestPullResumeServers covers the answers a server may give to a resumed
// request, starting from a partial file of the right length whose bytes are
// wrong (garbage): any path that keeps them fails the checksum.
func TestPullResumeServers(t *testing.T) {
	data := fixture(t)
	tests := []struct {
		name     string
		how      behaviour
		prefix   []byte // partial file content before the pull
		size     int64  // Entry.Size
		requests int
		resumed  int64
		wantErr  error
	}{
		{"server ignores Range: restart from zero", ignoreRange, []byte("garbage garbage"), 0, 1, 0, nil},
		{"206 at the wrong offset: restart from zero", wrongRange, []byte("garbage garbage"), 0, 2, 0, nil},
		{"honoured Range on a correct prefix", honourRange, data[:100], 0, 1, 100, nil},
		{"honoured Range on a wrong prefix: checksum fails", honourRange, []byte("garbage garbage"), 0, 1, 0, ErrChecksum},
		{"416: the partial file is already complete", honourRange, data, 0, 1, int64(len(data)), nil},
		{"known size reached: no request at all", honourRange, data, int64(len(data)), 0, int64(len(data)), nil},
		{"partial longer than the known size: restart", honourRange, append(append([]byte{}, data...), "tail"...), int64(len(data)), 1, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, data, tt.how, 0)
			dest := t.TempDir()
			if err := os.WriteFile(filepath.Join(dest, "m.tar.bz2.partial"), tt.prefix, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: sum(data), Size: tt.size}, dest, Options{})
			n, _ := srv.seen()
			if n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				assertOnly(t, dest)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Resumed != tt.resumed {
				t.Errorf("resumed %d, want %d", res.Resumed, tt.resumed)
			}
			checkInstalled(t, dest, "m")
		})
	}
}

func TestPullUnsafeArchives(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		opts    Options
	}{
		{"dot-dot file", []tarEntry{{name: "pkg/../../evil", body: "x"}}, Options{}},
		{"leading dot-dot", []tarEntry{{name: "../evil", body: "x"}}, Options{}},
		{"absolute file", []tarEntry{{name: "/tmp/evil", body: "x"}}, Options{}},
		{"symlink to parent", []tarEntry{{name: "pkg/x", body: "x"}, {name: "pkg/up", typ: tar.TypeSymlink, link: "../../.."}}, Options{}},
		{"absolute symlink", []tarEntry{{name: "pkg/etc", typ: tar.TypeSymlink, link: "/etc"}}, Options{}},
		{"symlink chain escaping", []tarEntry{
			{name: "s/", typ: tar.TypeDir},
			{name: "s/a", typ: tar.TypeSymlink, link: ".."},
			{name: "l", typ: tar.TypeSymlink, link: "s/a/.."},
		}, Options{}},
		{"dangling symlink", []tarEntry{{name: "pkg/x", typ: tar.TypeSymlink, link: "nothing"}}, Options{}},
		{"file written through a symlink", []tarEntry{
			{name: "d", typ: tar.TypeSymlink, link: "."},
			{name: "d/x", body: "x"},
		}, Options{}},
		{"hard link outside", []tarEntry{{name: "pkg/h", typ: tar.TypeLink, link: "../../etc/passwd"}}, Options{}},
		{"hard link to a later file", []tarEntry{{name: "h", typ: tar.TypeLink, link: "f"}, {name: "f", body: "x"}}, Options{}},
		{"device node", []tarEntry{{name: "pkg/null", typ: tar.TypeChar}}, Options{}},
		{"fifo", []tarEntry{{name: "pkg/fifo", typ: tar.TypeFifo}}, Options{}},
		{"duplicate file", []tarEntry{{name: "f", body: "a"}, {name: "./f", body: "b"}}, Options{}},
		{"too many bytes", []tarEntry{{name: "a", body: strings.Repeat("a", 600)}, {name: "b", body: strings.Repeat("b", 600)}}, Options{MaxExtract: 1000}},
		{"too many entries", []tarEntry{{name: "a", body: "a"}, {name: "b", body: "b"}, {name: "c", body: "c"}}, Options{MaxEntries: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bz2(t, makeTar(t, tt.entries))
			srv := newServer(t, data, honourRange, 0)
			top := t.TempDir()
			dest := filepath.Join(top, "a", "b", "models")
			_, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: sum(data)}, dest, tt.opts)
			if !errors.Is(err, ErrUnsafeArchive) {
				t.Fatalf("err = %v, want ErrUnsafeArchive", err)
			}
			assertOnly(t, dest)
			if got := listTree(t, top); !reflect.DeepEqual(got, []string{"a/", "a/b/", "a/b/models/"}) {
				t.Fatalf("files written outside: %q", got)
			}
		})
	}
}

func TestPullNotAnArchive(t *testing.T) {
	data := []byte(strings.Repeat("<html>not found</html>\n", 40))
	srv := newServer(t, data, honourRange, 0)
	dest := t.TempDir()
	_, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2"}, dest, Options{AllowNoChecksum: true})
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v, want ErrFormat", err)
	}
	assertOnly(t, dest)
}

func TestPullExisting(t *testing.T) {
	data := fixture(t)
	srv := newServer(t, data, honourRange, 0)
	dest := t.TempDir()
	old := filepath.Join(dest, "m")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "old.txt"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: sum(data)}
	_, err := Pull(context.Background(), e, dest, Options{})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if n, _ := srv.seen(); n != 0 {
		t.Errorf("%d requests before refusing, want 0", n)
	}
	if got := listTree(t, dest); !reflect.DeepEqual(got, []string{"m/", "m/old.txt"}) {
		t.Fatalf("existing model changed: %q", got)
	}

	if _, err := Pull(context.Background(), e, dest, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dest, "m")
}

func TestPullNoChecksum(t *testing.T) {
	data := fixture(t)
	srv := newServer(t, data, honourRange, 0)
	dest := t.TempDir()
	e := Entry{Name: "m", URL: srv.URL + "/m.tar.bz2"}
	if _, err := Pull(context.Background(), e, dest, Options{}); !errors.Is(err, ErrNoChecksum) {
		t.Fatalf("err = %v, want ErrNoChecksum", err)
	}
	if n, _ := srv.seen(); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
	assertOnly(t, dest)

	res, err := Pull(context.Background(), e, dest, Options{AllowNoChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.SHA256 != sum(data) {
		t.Errorf("result %+v, want unverified with sha256 %s", res, sum(data))
	}
	checkInstalled(t, dest, "m")
}

func TestPullSizeMismatch(t *testing.T) {
	data := fixture(t)
	srv := newServer(t, data, honourRange, 0)
	dest := t.TempDir()
	_, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: sum(data), Size: int64(len(data)) + 1}, dest, Options{})
	if !errors.Is(err, ErrSize) {
		t.Fatalf("err = %v, want ErrSize", err)
	}
	assertOnly(t, dest)

	_, err = Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2"}, dest, Options{AllowNoChecksum: true, MaxDownload: 100})
	if !errors.Is(err, ErrSize) {
		t.Fatalf("err = %v, want ErrSize over MaxDownload", err)
	}
	assertOnly(t, dest)
}

func TestPullHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	dest := t.TempDir()
	_, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/missing.tar.bz2", SHA256: strings.Repeat("0", 64)}, dest, Options{})
	if err == nil || !strings.Contains(err.Error(), "404 Not Found") {
		t.Fatalf("err = %v, want a 404", err)
	}
	assertOnly(t, dest) // no model, and no empty partial file

}

func TestPullInvalidInput(t *testing.T) {
	dest := t.TempDir()
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{"bad name", Entry{Name: "../x", URL: "http://h/x.tar.bz2", SHA256: strings.Repeat("0", 64)}, "invalid model name"},
		{"hidden name", Entry{Name: ".x", URL: "http://h/x.tar.bz2", SHA256: strings.Repeat("0", 64)}, "invalid model name"},
		{"file URL", Entry{Name: "x", URL: "file:///etc/passwd", SHA256: strings.Repeat("0", 64)}, "invalid model URL"},
		{"short sha", Entry{Name: "x", URL: "http://h/x.tar.bz2", SHA256: "abc"}, "invalid sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Pull(context.Background(), tt.e, dest, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			assertOnly(t, dest)
		})
	}
}

func TestPullBusy(t *testing.T) {
	dest := t.TempDir()
	f, err := lockFile(filepath.Join(dest, "m.tar.bz2.partial"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Pull(context.Background(), Entry{Name: "m", URL: "http://127.0.0.1:1/m.tar.bz2", SHA256: strings.Repeat("0", 64)}, dest, Options{})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
}

// stallServer sends cut bytes of data, then waits until the client goes away.
func stallServer(t *testing.T, data []byte, cut int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", itoa(len(data)))
		w.Write(data[:cut])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPullCancel(t *testing.T) {
	data := fixture(t)
	cut := len(data) / 2
	srv := stallServer(t, data, cut)
	dest := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{ProgressInterval: 1, Progress: func(p Progress) {
		if p.Phase == PhaseDownload && p.Done >= int64(cut) {
			cancel()
		}
	}}
	_, err := Pull(ctx, Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: sum(data)}, dest, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The bytes received stay for the next run.
	if fi, err := os.Stat(filepath.Join(dest, "m.tar.bz2.partial")); err != nil || fi.Size() != int64(cut) {
		t.Fatalf("partial: %v, %v, want %d bytes", fi, err, cut)
	}
	assertOnly(t, dest, "m.tar.bz2.partial")
}

func TestPullIdleTimeout(t *testing.T) {
	data := fixture(t)
	srv := stallServer(t, data, 10)
	dest := t.TempDir()
	_, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: sum(data)}, dest, Options{IdleTimeout: 50_000_000})
	if err == nil || !strings.Contains(err.Error(), "no data from") {
		t.Fatalf("err = %v, want the idle timeout", err)
	}
}

func TestRemovesStaleTemporaries(t *testing.T) {
	data := fixture(t)
	srv := newServer(t, data, honourRange, 0)
	dest := t.TempDir()
	for _, d := range []string{".m.tmp-123", ".m.old-abc", ".other.tmp-1"} {
		if err := os.MkdirAll(filepath.Join(dest, d, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Pull(context.Background(), Entry{Name: "m", URL: srv.URL + "/m.tar.bz2", SHA256: sum(data)}, dest, Options{}); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dest, ".other.tmp-1", "m")
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in               string
		start, end, size int64
		ok               bool
	}{
		{"bytes 100-199/200", 100, 199, 200, true},
		{"bytes 0-0/1", 0, 0, 1, true},
		{"bytes 5-9/*", 5, 9, -1, true},
		{"bytes */200", -1, -1, 200, true},
		{"bytes */*", 0, 0, 0, false},
		{"bytes 10-5/200", 0, 0, 0, false},
		{"bytes 0-200/200", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes 0-1", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"bytes -1-5/10", 0, 0, 0, false},
	}
	for _, tt := range tests {
		s, e, n, ok := parseContentRange(tt.in)
		if ok != tt.ok || (ok && (s != tt.start || e != tt.end || n != tt.size)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", tt.in, s, e, n, ok, tt.start, tt.end, tt.size, tt.ok)
		}
	}
}
