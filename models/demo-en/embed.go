// Package demoen is the demo model bundle of this directory built into the
// binary, so that subtitled captions out of the box with no model on disk.
// The model was trained on synthetic speech only and is not for real
// broadcasts; see README.md in this directory.
//
// ONNX Runtime and the bundle loader read files, so Extract writes the
// bundle once into a cache directory and returns its path.
package demoen

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Name is the bundle's name (bundle.yaml name:).
const Name = "demo-en"

//go:embed bundle.yaml model.onnx tokens.txt words.txt lm.arpa
var files embed.FS

// Files lists the bundle's files.
var Files = []string{"bundle.yaml", "model.onnx", "tokens.txt", "words.txt", "lm.arpa"}

// ErrExtract marks a failure to write the embedded bundle to disk.
var ErrExtract = errors.New("demo model: cannot unpack the embedded bundle")

// FS returns the embedded bundle's files.
func FS() fs.FS { return files }

// Version is a short hash of the embedded files; Extract names its
// directory after it, so that binaries with different demo models never
// share a copy.
func Version() string {
	h := sha256.New()
	for _, name := range Files {
		b, _ := files.ReadFile(name) // embedded: cannot fail
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Extract makes sure parent/demo-en-<Version> holds exactly the embedded
// bundle and returns that directory. A complete copy is reused; a missing
// or altered one is written again (into a temporary directory renamed into
// place, so that concurrent processes never see half a bundle).
func Extract(parent string) (string, error) {
	dir := filepath.Join(parent, Name+"-"+Version())
	if intact(dir) {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("%w: %w", ErrExtract, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+Name+"-*")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrExtract, err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("%w: %w", ErrExtract, err)
	}
	for _, name := range Files {
		b, _ := files.ReadFile(name)
		if err := writeSynced(filepath.Join(tmp, name), b); err != nil {
			return "", fmt.Errorf("%w: %w", ErrExtract, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if intact(dir) { // another process was faster
			return dir, nil
		}
		// A damaged copy is in the way: replace it.
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("%w: %w", ErrExtract, err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return "", fmt.Errorf("%w: %w", ErrExtract, err)
		}
	}
	return dir, nil
}

// intact reports whether dir holds every embedded file, byte for byte.
func intact(dir string) bool {
	for _, name := range Files {
		want, _ := files.ReadFile(name)
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
