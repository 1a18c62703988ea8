package catalog

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// limits bounds what one archive may unpack to.
type limits struct {
	maxBytes   int64 // total size of regular files
	maxEntries int
}

// safePath checks a tar entry name and returns it as a clean relative path
// below the extraction root ("" for the root itself, e.g. "./"). It rejects
// empty names, absolute paths, any ".." element, NUL bytes and backslashes.
func safePath(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty entry name")
	case strings.ContainsRune(name, 0):
		return "", errors.New("NUL byte in entry name")
	case strings.ContainsRune(name, '\\'):
		return "", fmt.Errorf("backslash in entry name %q", name)
	case strings.HasPrefix(name, "/"):
		return "", fmt.Errorf("absolute entry name %q", name)
	}
	parts := make([]string, 0, strings.Count(name, "/")+1)
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("entry name %q leaves the directory", name)
		}
		parts = append(parts, p)
	}
	return filepath.Join(parts...), nil
}

// linkTargetInside reports whether a symlink at rel (relative to the root)
// pointing to target stays inside the root by its text alone.
func linkTargetInside(rel, target string) bool {
	if target == "" || filepath.IsAbs(target) || strings.ContainsRune(target, 0) {
		return false
	}
	resolved := filepath.Join(filepath.Dir(rel), target)
	return resolved == "." || filepath.IsLocal(resolved)
}

// within reports whether path is root or below it (both cleaned, absolute).
func within(root, path string) bool {
	return path == root || strings.HasPrefix(path, root+string(filepath.Separator))
}

// openArchive sniffs the compression of r (bzip2, gzip or none) and returns a
// tar reader over it, and a closer for the decompressor.
func openArchive(r io.Reader) (*tar.Reader, func() error, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	switch {
	case bytes.HasPrefix(head, []byte("BZh")):
		return tar.NewReader(bzip2.NewReader(br)), func() error { return nil }, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		return tar.NewReader(zr), zr.Close, nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return tar.NewReader(br), func() error { return nil }, nil
	}
	return nil, nil, fmt.Errorf("%w: want .tar.bz2, .tar.gz or .tar", ErrFormat)
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// countReader counts the bytes read through it and reports them.
type countReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.report != nil {
		c.report(c.n)
	}
	return n, err
}

// extract unpacks the archive read from r into root, an existing empty
// directory. Directories and regular files (and hard links to files already
// unpacked) are written first, in archive order; symbolic links are created
// last, so no file is ever written through a link, and each link must
// resolve to an existing path inside root. Any entry that would escape root,
// any other entry type, or more than lim bytes or entries fails with
// ErrUnsafeArchive; the caller discards root on error.
func extract(ctx context.Context, r io.Reader, root string, lim limits) error {
	tr, closeZ, err := openArchive(ctxReader{ctx, r})
	if err != nil {
		return err
	}
	defer closeZ()
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	type link struct{ rel, target string }
	var (
		links   []link
		files   = map[string]bool{}
		total   int64
		entries int
	)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if entries++; entries > lim.maxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrUnsafeArchive, lim.maxEntries)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		rel, err := safePath(hdr.Name)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
		}
		path := filepath.Join(root, rel)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if rel == "" {
				continue
			}
			if files[rel] {
				return fmt.Errorf("%w: %q is both a file and a directory", ErrUnsafeArchive, hdr.Name)
			}
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg, '\x00':
			if rel == "" {
				return fmt.Errorf("%w: file entry %q names the root", ErrUnsafeArchive, hdr.Name)
			}
			if files[rel] {
				return fmt.Errorf("%w: %q appears twice", ErrUnsafeArchive, hdr.Name)
			}
			if hdr.Size < 0 || total+hdr.Size > lim.maxBytes {
				return fmt.Errorf("%w: unpacks to more than %d bytes", ErrUnsafeArchive, lim.maxBytes)
			}
			total += hdr.Size
			if err := writeFile(path, tr, hdr); err != nil {
				return err
			}
			files[rel] = true
		case tar.TypeLink:
			src, err := safePath(hdr.Linkname)
			if err != nil || !files[src] {
				return fmt.Errorf("%w: hard link %q to %q, which is not a file unpacked before it", ErrUnsafeArchive, hdr.Name, hdr.Linkname)
			}
			if rel == "" || files[rel] {
				return fmt.Errorf("%w: hard link %q replaces an entry", ErrUnsafeArchive, hdr.Name)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.Link(filepath.Join(root, src), path); err != nil {
				return err
			}
			files[rel] = true
		case tar.TypeSymlink:
			if rel == "" || !linkTargetInside(rel, hdr.Linkname) {
				return fmt.Errorf("%w: symlink %q -> %q leaves the directory", ErrUnsafeArchive, hdr.Name, hdr.Linkname)
			}
			links = append(links, link{rel, hdr.Linkname})
		default:
			return fmt.Errorf("%w: entry %q has unsupported type %q", ErrUnsafeArchive, hdr.Name, hdr.Typeflag)
		}
	}
	for _, l := range links {
		path := filepath.Join(root, l.rel)
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%w: symlink %q replaces an entry", ErrUnsafeArchive, l.rel)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(l.target, path); err != nil {
			return err
		}
		// The text check above cannot see links through other links; the
		// file system can. Dangling links are refused too, so later links
		// cannot change where this one points.
		real, err := filepath.EvalSymlinks(path)
		if err != nil || !within(realRoot, real) {
			os.Remove(path)
			return fmt.Errorf("%w: symlink %q -> %q does not resolve inside the directory", ErrUnsafeArchive, l.rel, l.target)
		}
	}
	return nil
}

// writeFile creates path (and its parents) with the entry's contents. Modes
// are reduced to 0644, or 0755 when the entry is executable.
func writeFile(path string, r io.Reader, hdr *tar.Header) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %q replaces a directory", ErrUnsafeArchive, hdr.Name)
	}
	perm := os.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, hdr.Size); err != nil {
		f.Close()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", ErrFormat, hdr.Name, err)
	}
	return f.Close()
}

// modelRoot returns the directory that becomes the model: the single
// top-level directory of an archive that has one, else dir itself.
func modelRoot(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(ents) == 1 && ents[0].IsDir() {
		return filepath.Join(dir, ents[0].Name()), nil
	}
	return dir, nil
}
