// Package filesink writes a live caption file: one final cue at a time,
// each followed by fsync, with size- and time-based rotation by atomic
// rename. A crash (even SIGKILL) leaves a file that parses and holds every
// cue whose Write returned.
//
// WebVTT, SRT and JSON lines are appended. TTML is an XML document that is
// only well-formed with its closing tags, so for TTML the whole current
// document is rewritten into a temporary file, synced and renamed over the
// target after every cue; rotation bounds the cost.
package filesink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/format"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("filesink: closed")

// Options configure a Sink.
type Options struct {
	// Path is the live file.
	Path string
	// Format of the file.
	Format format.Format
	// Writer holds the time base and other format options.
	Writer format.Options
	// RotateSize rotates when the live file reaches this many bytes (0: never).
	RotateSize int64
	// RotateInterval rotates when the live file is this old (0: never).
	RotateInterval time.Duration
	// Now is the clock (default time.Now), a seam for tests.
	Now func() time.Time
}

// Sink is one live caption file. Safe for concurrent use.
type Sink struct {
	mu      sync.Mutex
	opts    Options
	w       format.Writer
	f       *os.File // appended formats
	size    int64
	opened  time.Time
	cues    []captions.Cue // TTML: the current document's cues
	written uint64
	closed  bool
}

// Open creates (or truncates after rotating away) the live file and writes
// its header.
func Open(opts Options) (*Sink, error) {
	if opts.Path == "" {
		return nil, errors.New("filesink: empty path")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w, err := format.NewWriter(opts.Format, opts.Writer)
	if err != nil {
		return nil, fmt.Errorf("filesink %s: %w", opts.Path, err)
	}
	s := &Sink{opts: opts, w: w}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
		return nil, fmt.Errorf("filesink: %w", err)
	}
	// A file left by an earlier run is kept: rotate it away first.
	if st, err := os.Stat(opts.Path); err == nil && st.Size() > 0 {
		if err := s.rotateAway(); err != nil {
			return nil, err
		}
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Write appends one final cue and syncs it to disk before returning.
func (s *Sink) Write(c captions.Cue) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.due() {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if s.opts.Format == format.TTML {
		s.cues = append(s.cues, c)
		if err := s.rewrite(); err != nil {
			s.cues = s.cues[:len(s.cues)-1]
			return err
		}
	} else {
		var buf bytes.Buffer
		if err := s.w.WriteCue(&buf, c); err != nil {
			return fmt.Errorf("filesink %s: %w", s.opts.Path, err)
		}
		if _, err := s.f.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("filesink %s: %w", s.opts.Path, err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("filesink %s: sync: %w", s.opts.Path, err)
		}
		s.size += int64(buf.Len())
	}
	s.written++
	return nil
}

// Written is the number of cues written.
func (s *Sink) Written() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

// Close finishes the live file (footer, sync) and leaves it in place.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.finish()
}

func (s *Sink) due() bool {
	if s.opts.RotateSize > 0 && s.size >= s.opts.RotateSize {
		return true
	}
	return s.opts.RotateInterval > 0 && s.opts.Now().Sub(s.opened) >= s.opts.RotateInterval
}

// rotate finishes the live file, renames it aside and starts a new one.
func (s *Sink) rotate() error {
	if err := s.finish(); err != nil {
		return err
	}
	if err := s.rotateAway(); err != nil {
		return err
	}
	return s.start()
}

// rotateAway renames the live file to PATH.YYYYMMDDTHHMMSS[.N]EXT.
func (s *Sink) rotateAway() error {
	ext := filepath.Ext(s.opts.Path)
	base := s.opts.Path[:len(s.opts.Path)-len(ext)]
	stamp := s.opts.Now().UTC().Format("20060102T150405")
	target := base + "." + stamp + ext
	for i := 1; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			break
		}
		target = fmt.Sprintf("%s.%s.%d%s", base, stamp, i, ext)
	}
	if err := os.Rename(s.opts.Path, target); err != nil {
		return fmt.Errorf("filesink: rotate %s: %w", s.opts.Path, err)
	}
	return syncDir(filepath.Dir(s.opts.Path))
}

// start opens a new live file with its header.
func (s *Sink) start() error {
	s.opened = s.opts.Now()
	s.cues = s.cues[:0]
	s.size = 0
	if s.opts.Format == format.TTML {
		return s.rewrite()
	}
	f, err := os.OpenFile(s.opts.Path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("filesink: %w", err)
	}
	var buf bytes.Buffer
	if err := s.w.WriteHeader(&buf); err != nil {
		f.Close()
		return fmt.Errorf("filesink %s: %w", s.opts.Path, err)
	}
	if _, err := f.Write(buf.Bytes()); err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("filesink %s: %w", s.opts.Path, err)
	}
	s.f, s.size = f, int64(buf.Len())
	return syncDir(filepath.Dir(s.opts.Path))
}

// finish writes the footer of an appended file and closes it.
func (s *Sink) finish() error {
	if s.opts.Format == format.TTML {
		return nil // every rewrite is already a complete document
	}
	if s.f == nil {
		return nil
	}
	var buf bytes.Buffer
	err := s.w.WriteFooter(&buf)
	if err == nil && buf.Len() > 0 {
		_, err = s.f.Write(buf.Bytes())
	}
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		return fmt.Errorf("filesink %s: %w", s.opts.Path, err)
	}
	return nil
}

// rewrite writes the whole TTML document atomically.
func (s *Sink) rewrite() error {
	var buf bytes.Buffer
	if err := format.WriteAll(&buf, s.w, s.cues); err != nil {
		return fmt.Errorf("filesink %s: %w", s.opts.Path, err)
	}
	dir := filepath.Dir(s.opts.Path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.opts.Path)+".tmp*")
	if err != nil {
		return fmt.Errorf("filesink: %w", err)
	}
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.opts.Path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("filesink %s: %w", s.opts.Path, err)
	}
	s.size = int64(buf.Len())
	return syncDir(dir)
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("filesink: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("filesink: sync %s: %w", dir, err)
	}
	return nil
}
