package demoen

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The embedded files are the ones in this directory.
func TestEmbeddedMatchesDisk(t *testing.T) {
	for _, name := range Files {
		disk, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		emb, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(disk, emb) {
			t.Errorf("%s: embedded copy differs from the file", name)
		}
	}
}

func TestExtract(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "cache")
	dir, err := Extract(parent)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != Name+"-"+Version() || !intact(dir) {
		t.Fatalf("extracted to %s, intact %v", dir, intact(dir))
	}
	// A complete copy is reused as it is.
	stamp := filepath.Join(dir, "model.onnx")
	before, _ := os.Stat(stamp)
	if again, err := Extract(parent); err != nil || again != dir {
		t.Fatalf("second Extract: %s, %v", again, err)
	}
	if after, _ := os.Stat(stamp); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("an intact copy was written again")
	}
	// A damaged copy is replaced.
	for _, damage := range []func() error{
		func() error { return os.WriteFile(filepath.Join(dir, "tokens.txt"), []byte("x 0\n"), 0o644) },
		func() error { return os.Remove(filepath.Join(dir, "lm.arpa")) },
		func() error { return os.Truncate(filepath.Join(dir, "model.onnx"), 100) },
	} {
		if err := damage(); err != nil {
			t.Fatal(err)
		}
		if again, err := Extract(parent); err != nil || again != dir || !intact(dir) {
			t.Fatalf("Extract after damage: %s, %v, intact %v", again, err, intact(dir))
		}
	}
	// No temporary directories are left behind.
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want 1", len(entries))
	}
}

// Processes starting together all get an intact copy.
func TestExtractConcurrent(t *testing.T) {
	parent := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Extract(parent)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("extract %d: %v", i, err)
		}
	}
	if !intact(filepath.Join(parent, Name+"-"+Version())) {
		t.Error("not intact after concurrent extracts")
	}
}

func TestExtractUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(filepath.Join(file, "cache")); err == nil {
		t.Fatal("Extract under a regular file succeeded")
	}
}
