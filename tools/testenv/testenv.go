// Package testenv gives tests the repository's layout and its provisioned
// ONNX Runtime library, so that every package's tests find them the same way.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/subtitled/subtitled/decoder/onnx"
)

var (
	rootOnce sync.Once
	root     string
	rootErr  error
)

// RepoRoot returns the directory holding go.mod above the working directory.
func RepoRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				root = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = fmt.Errorf("testenv: no go.mod above the working directory")
				return
			}
			dir = parent
		}
	})
	return root, rootErr
}

// Path joins elem onto the repository root; it panics when there is none,
// which only happens when tests run outside the repository.
func Path(elem ...string) string {
	r, err := RepoRoot()
	if err != nil {
		panic(err)
	}
	return filepath.Join(append([]string{r}, elem...)...)
}

// InitORT points SUBTITLED_ORT_LIB at the repository's lib/ (unless it is
// already set) and initialises ONNX Runtime. The error says how to fix a
// missing library.
func InitORT() error {
	if os.Getenv(onnx.EnvLibrary) == "" {
		lib := Path("lib", onnx.LibraryName)
		if _, err := os.Stat(lib); err != nil {
			return fmt.Errorf("ONNX Runtime library missing at %s: run `make ort` first", lib)
		}
		if err := os.Setenv(onnx.EnvLibrary, lib); err != nil {
			return err
		}
	}
	p, err := onnx.FindLibrary()
	if err != nil {
		return err
	}
	return onnx.Init(p)
}
