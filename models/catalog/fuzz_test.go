package catalog

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSafePath checks that every name safePath accepts stays below the root.
func FuzzSafePath(f *testing.F) {
	for _, s := range []string{"pkg/model.onnx", "./a//b/", "../x", "/etc/passwd", "a/../../b", "a\\..\\b", "", ".", "a/./b/..", "…/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		rel, err := safePath(name)
		if err != nil {
			return
		}
		if rel != "" && !filepath.IsLocal(rel) {
			t.Fatalf("safePath(%q) = %q, not local", name, rel)
		}
		root := "/r/root"
		full := filepath.Join(root, rel)
		if !within(root, full) {
			t.Fatalf("safePath(%q) = %q joins to %q outside %q", name, rel, full, root)
		}
		for _, p := range strings.Split(rel, "/") {
			if p == ".." {
				t.Fatalf("safePath(%q) = %q keeps a .. element", name, rel)
			}
		}
	})
}

// FuzzExtract unpacks arbitrary bytes and checks nothing lands outside the root.
func FuzzExtract(f *testing.F) {
	small := append([]tarEntry(nil), modelFiles...)
	small[2].body = "onnx"
	f.Add(makeTar(f, small))
	f.Add(makeTar(f, []tarEntry{{name: "../evil", body: "x"}}))
	f.Add(makeTar(f, []tarEntry{{name: "s/", typ: tar.TypeDir}, {name: "s/a", typ: tar.TypeSymlink, link: ".."}, {name: "l", typ: tar.TypeSymlink, link: "s/a/.."}}))
	f.Add(gz(f, makeTar(f, []tarEntry{{name: "a/b", body: "x"}, {name: "h", typ: tar.TypeLink, link: "a/b"}})))
	f.Fuzz(func(t *testing.T, data []byte) {
		top := t.TempDir()
		root := filepath.Join(top, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = extract(context.Background(), bytes.NewReader(data), root, limits{maxBytes: 1 << 20, maxEntries: 1000})
		ents, err := os.ReadDir(top)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 1 || ents[0].Name() != "root" {
			t.Fatalf("extract wrote outside the root: %v", ents)
		}
		realRoot, _ := filepath.EvalSymlinks(root)
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode()&os.ModeSymlink != 0 {
				if r, err := filepath.EvalSymlinks(p); err == nil && !within(realRoot, r) {
					t.Fatalf("symlink %s resolves outside the root to %s", p, r)
				}
			}
			return nil
		})
	})
}
