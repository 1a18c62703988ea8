package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Phase names a step of Pull in Progress reports.
type Phase string

// The phases of Pull, in order.
const (
	PhaseDownload Phase = "download"
	PhaseVerify   Phase = "verify"
	PhaseExtract  Phase = "extract"
)

// Progress is one report of Pull's progress.
type Progress struct {
	Phase Phase
	// Done is the bytes handled so far: in the download phase, the size of
	// the partial file; in the verify and extract phases, archive bytes read.
	Done int64
	// Total is the expected total, 0 when unknown.
	Total int64
	// Start is what Done was when the phase began (a resumed download's offset).
	Start int64
	// Elapsed is the time since the phase began.
	Elapsed time.Duration
	// Final marks the last report of a phase.
	Final bool
}

// Percent is Done as a percentage of Total, or -1 when Total is unknown.
func (p Progress) Percent() float64 {
	if p.Total <= 0 {
		return -1
	}
	return 100 * float64(p.Done) / float64(p.Total)
}

// Rate is the phase's throughput in bytes per second (bytes since Start).
func (p Progress) Rate() float64 {
	s := p.Elapsed.Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.Done-p.Start) / s
}

// Options tune Pull. The zero value is usable.
type Options struct {
	// Force replaces an existing model directory.
	Force bool
	// AllowNoChecksum installs an entry without a sha256 unverified. Without
	// it such an entry fails with ErrNoChecksum before anything is fetched.
	AllowNoChecksum bool
	// Client does the HTTP requests; nil uses NewClient().
	Client *http.Client
	// UserAgent is sent with each request.
	UserAgent string
	// Progress, when set, is called at most every ProgressInterval per phase,
	// plus once at the end of each phase (Final).
	Progress func(Progress)
	// ProgressInterval defaults to 250 ms.
	ProgressInterval time.Duration
	// IdleTimeout aborts a download when no byte arrives for this long
	// (connecting included); default 60 s.
	IdleTimeout time.Duration
	// MaxDownload caps an archive whose size is not known; default 16 GiB.
	MaxDownload int64
	// MaxExtract caps the total size of the unpacked files; default 16 GiB.
	MaxExtract int64
	// MaxEntries caps the number of archive entries; default 100 000.
	MaxEntries int
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = NewClient()
	}
	if o.UserAgent == "" {
		o.UserAgent = "subtitled-model-pull"
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 250 * time.Millisecond
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.MaxDownload <= 0 {
		o.MaxDownload = 16 << 30
	}
	if o.MaxExtract <= 0 {
		o.MaxExtract = 16 << 30
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100_000
	}
	return o
}

// NewClient returns the HTTP client Pull uses by default: proxies from the
// environment, bounded connect, TLS and response-header timeouts, and
// redirects followed (GitHub release assets redirect to a CDN).
func NewClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 30 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}

// Result describes an installed model.
type Result struct {
	// Dir is the installed model directory.
	Dir string
	// SHA256 is the digest of the downloaded archive.
	SHA256 string
	// Verified is true when SHA256 matched an expected digest.
	Verified bool
	// Bytes is the archive size.
	Bytes int64
	// Resumed is the number of bytes reused from an earlier interrupted
	// download (0 when it started from scratch).
	Resumed int64
}

// Pull downloads e.URL into destDir, verifies it against e.SHA256 and
// installs it as destDir/e.Name.
//
// The download goes to destDir/NAME.EXT.partial, locked against a second Pull
// of the same model. When that file exists from an interrupted run, Pull asks
// for the rest with a Range request; a server that ignores Range (200) or
// answers a different range restarts the download from zero. The whole file's
// sha256 is then compared with e.SHA256: a mismatch removes the partial file
// and fails with ErrChecksum. The archive is unpacked into a hidden temporary
// directory beside the destination (see extract) and renamed into place;
// an archive with a single top-level directory installs that directory. An
// existing model directory needs opts.Force. On any error no model directory
// is created or changed; the partial file is kept only when resuming can help.
func Pull(ctx context.Context, e Entry, destDir string, opts Options) (Result, error) {
	opts = opts.withDefaults()
	if !ValidName(e.Name) {
		return Result{}, fmt.Errorf("invalid model name %q: want letters, digits, '.', '_', '+' or '-'", e.Name)
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Result{}, fmt.Errorf("invalid model URL %q: want http:// or https://", e.URL)
	}
	want := ""
	if e.SHA256 != "" {
		if want, err = ParseSHA256(e.SHA256); err != nil {
			return Result{}, err
		}
	} else if !opts.AllowNoChecksum {
		return Result{}, fmt.Errorf("%w for model %q (%s)", ErrNoChecksum, e.Name, e.URL)
	}
	target := filepath.Join(destDir, e.Name)
	if _, err := os.Lstat(target); err == nil && !opts.Force {
		return Result{}, fmt.Errorf("%w: %s", ErrExists, target)
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return Result{}, err
	}
	partial := filepath.Join(destDir, e.Name+archiveExt(e.URL)+".partial")
	f, err := lockFile(partial)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	removeStale(destDir, e.Name)

	dl := &downloader{e: e, f: f, opts: opts}
	if err := dl.run(ctx); err != nil {
		if fi, serr := f.Stat(); errors.Is(err, ErrSize) || (serr == nil && fi.Size() == 0) {
			os.Remove(partial) // nothing worth resuming
		}
		return Result{}, err
	}
	res := Result{Dir: target, Bytes: dl.size, Resumed: dl.resumed}

	got, err := hashFile(ctx, f, dl.size, opts)
	if err != nil {
		return Result{}, err
	}
	res.SHA256 = got
	if want != "" {
		if got != want {
			os.Remove(partial)
			return Result{}, fmt.Errorf("%w for %s: expected %s, got %s (download removed)", ErrChecksum, e.URL, want, got)
		}
		res.Verified = true
	}

	tmp, err := os.MkdirTemp(destDir, "."+e.Name+".tmp-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(tmp)
	if err := unpack(ctx, f, dl.size, tmp, opts); err != nil {
		if errors.Is(err, ErrFormat) || errors.Is(err, ErrUnsafeArchive) {
			os.Remove(partial) // fetching it again will not help
		}
		return Result{}, fmt.Errorf("unpacking %s: %w", e.URL, err)
	}
	root, err := modelRoot(tmp)
	if err != nil {
		return Result{}, err
	}
	if err := os.Chmod(root, 0o755); err != nil {
		return Result{}, err
	}
	if err := install(root, target, opts.Force); err != nil {
		return Result{}, err
	}
	os.Remove(partial)
	return res, nil
}

// archiveExt is the archive extension of rawURL's file name, ".tar.bz2" when
// it has none of the known ones (the format is sniffed, not trusted).
func archiveExt(rawURL string) string {
	u := rawURL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	for _, ext := range []string{".tar.bz2", ".tbz2", ".tar.gz", ".tgz", ".tar"} {
		if strings.HasSuffix(u, ext) {
			return ext
		}
	}
	return ".tar.bz2"
}

// lockFile opens (creating) path and takes an exclusive non-blocking flock.
func lockFile(path string) (*os.File, error) {
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w (%s is locked)", ErrBusy, path)
			}
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		// The previous holder may have removed the file between our open and
		// our lock; then lock the new one.
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%w (%s keeps changing)", ErrBusy, path)
}

// removeStale deletes temporary directories left by a crashed Pull of name.
// The caller holds the model's lock.
func removeStale(destDir, name string) {
	for _, pat := range []string{".tmp-*", ".old-*"} {
		m, _ := filepath.Glob(filepath.Join(destDir, "."+name+pat))
		for _, p := range m {
			os.RemoveAll(p)
		}
	}
}

// install renames src to target. An existing target (allowed only with
// force) is first moved aside and removed after the new one is in place; if
// that rename fails, the old one is put back.
func install(src, target string, force bool) error {
	if _, err := os.Lstat(target); err != nil {
		if err := os.Rename(src, target); err != nil {
			return fmt.Errorf("installing %s: %w", target, err)
		}
		return nil
	}
	if !force {
		return fmt.Errorf("%w: %s", ErrExists, target)
	}
	old := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".old-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(target, old); err != nil {
		return fmt.Errorf("moving the old %s aside: %w", target, err)
	}
	if err := os.Rename(src, target); err != nil {
		if rerr := os.Rename(old, target); rerr != nil {
			return fmt.Errorf("installing %s: %w (and restoring the old one from %s: %v)", target, err, old, rerr)
		}
		return fmt.Errorf("installing %s: %w", target, err)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("installed %s, but removing the old copy %s: %w", target, old, err)
	}
	return nil
}

// reporter throttles Progress calls for one phase.
type reporter struct {
	fn       func(Progress)
	interval time.Duration
	p        Progress
	began    time.Time
	last     time.Time
}

func newReporter(opts Options, phase Phase, start, total int64) *reporter {
	now := time.Now()
	return &reporter{fn: opts.Progress, interval: opts.ProgressInterval,
		p: Progress{Phase: phase, Start: start, Done: start, Total: total}, began: now, last: now}
}

func (r *reporter) update(done int64) {
	r.p.Done = done
	if r.fn == nil {
		return
	}
	if now := time.Now(); now.Sub(r.last) >= r.interval {
		r.last = now
		r.p.Elapsed = now.Sub(r.began)
		r.fn(r.p)
	}
}

func (r *reporter) final(done int64) {
	r.p.Done = done
	if r.fn == nil {
		return
	}
	r.p.Elapsed = time.Since(r.began)
	r.p.Final = true
	r.fn(r.p)
}

// downloader fetches one entry into its locked partial file.
type downloader struct {
	e       Entry
	f       *os.File
	opts    Options
	size    int64 // the complete file's size, once done
	resumed int64
}

// limit is the most bytes the file may have.
func (d *downloader) limit() int64 {
	if d.e.Size > 0 {
		return d.e.Size
	}
	return d.opts.MaxDownload
}

// run downloads until the partial file is complete. A server that answers a
// range request inconsistently makes it start again from zero, twice at most.
func (d *downloader) run(ctx context.Context) error {
	for range 3 {
		restart, err := d.once(ctx)
		if err != nil {
			return err
		}
		if !restart {
			return nil
		}
		if err := d.f.Truncate(0); err != nil {
			return err
		}
		d.resumed = 0
	}
	return fmt.Errorf("GET %s: the server keeps answering range requests inconsistently", d.e.URL)
}

// once makes one request. It returns restart when the partial file must be
// discarded and the download begun again.
func (d *downloader) once(ctx context.Context) (restart bool, err error) {
	fi, err := d.f.Stat()
	if err != nil {
		return false, err
	}
	off := fi.Size()
	if off > d.limit() {
		return true, nil
	}
	if d.e.Size > 0 && off == d.e.Size {
		d.size, d.resumed = off, off
		return false, nil
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := d.opts.IdleTimeout
	errIdle := fmt.Errorf("no data from %s for %s", hostOf(d.e.URL), idle)
	watchdog := time.AfterFunc(idle, func() { cancel(errIdle) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.e.URL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("User-Agent", d.opts.UserAgent)
	// Ask for the bytes as stored: a transparently decompressed .tar.gz would
	// not match its checksum.
	req.Header.Set("Accept-Encoding", "identity")
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return false, d.netErr(ctx, err, off)
	}
	defer resp.Body.Close()

	var total int64 = -1 // the complete file's size, -1 when unknown
	switch {
	case resp.StatusCode == http.StatusOK:
		if off > 0 {
			// The server ignored Range: start again from the first byte.
			if err := d.f.Truncate(0); err != nil {
				return false, err
			}
			off = 0
		}
		total = resp.ContentLength
	case resp.StatusCode == http.StatusPartialContent:
		start, end, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != off || (size >= 0 && end != size-1) {
			if off == 0 {
				return false, fmt.Errorf("GET %s: 206 with Content-Range %q to a request for the whole file", d.e.URL, resp.Header.Get("Content-Range"))
			}
			return true, nil
		}
		total = size
		d.resumed = off
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && off > 0:
		// Nothing left past off: the partial file is complete if the server
		// says the file has exactly off bytes; otherwise start again.
		if _, _, size, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && size == off {
			d.size, d.resumed = off, off
			return false, nil
		}
		return true, nil
	default:
		return false, fmt.Errorf("GET %s: %s", d.e.URL, resp.Status)
	}
	if total >= 0 && d.e.Size > 0 && total != d.e.Size {
		return false, fmt.Errorf("%w: %s has %d bytes, the catalogue expects %d", ErrSize, d.e.URL, total, d.e.Size)
	}
	if total > d.limit() {
		return false, fmt.Errorf("%w: %s has %d bytes, more than the %d-byte limit", ErrSize, d.e.URL, total, d.limit())
	}
	if _, err := d.f.Seek(off, io.SeekStart); err != nil {
		return false, err
	}
	known := total
	if known < 0 {
		known = d.e.Size
	}
	rep := newReporter(d.opts, PhaseDownload, off, max(known, 0))
	body := &countReader{r: resp.Body, report: func(n int64) {
		watchdog.Reset(idle)
		rep.update(off + n)
	}}
	room := d.limit() - off
	n, err := io.Copy(d.f, io.LimitReader(body, room+1))
	done := off + n
	rep.final(done)
	if err != nil {
		return false, d.netErr(ctx, err, done)
	}
	if n > room {
		return false, fmt.Errorf("%w: %s sends more than %d bytes", ErrSize, d.e.URL, d.limit())
	}
	if total >= 0 && done != total {
		return false, fmt.Errorf("GET %s: connection closed after %d of %d bytes (run again to resume)", d.e.URL, done, total)
	}
	d.size = done
	return false, nil
}

// netErr words a transfer error, naming the idle timeout when it fired.
func (d *downloader) netErr(ctx context.Context, err error, have int64) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if have > 0 {
		return fmt.Errorf("downloading %s: %w (%d bytes kept; run again to resume)", d.e.URL, err, have)
	}
	return fmt.Errorf("downloading %s: %w", d.e.URL, err)
}

func hostOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return rawURL
}

// parseContentRange parses "bytes START-END/SIZE" or "bytes */SIZE"; size is
// -1 for "*". For the unsatisfied form start and end are -1.
func parseContentRange(s string) (start, end, size int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, sz, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	size = -1
	if sz != "*" {
		v, err := strconv.ParseInt(sz, 10, 64)
		if err != nil || v < 0 {
			return 0, 0, 0, false
		}
		size = v
	}
	if rng == "*" {
		return -1, -1, size, size >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || (size >= 0 && end >= size) {
		return 0, 0, 0, false
	}
	return start, end, size, true
}

// hashFile returns the hex sha256 of f's first size bytes.
func hashFile(ctx context.Context, f *os.File, size int64, opts Options) (string, error) {
	rep := newReporter(opts, PhaseVerify, 0, size)
	h := sha256.New()
	r := &countReader{r: ctxReader{ctx, io.NewSectionReader(f, 0, size)}, report: rep.update}
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hashing the download: %w", err)
	}
	rep.final(r.n)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// unpack extracts f's first size bytes into dir.
func unpack(ctx context.Context, f *os.File, size int64, dir string, opts Options) error {
	rep := newReporter(opts, PhaseExtract, 0, size)
	r := &countReader{r: io.NewSectionReader(f, 0, size), report: rep.update}
	if err := extract(ctx, r, dir, limits{maxBytes: opts.MaxExtract, maxEntries: opts.MaxEntries}); err != nil {
		return err
	}
	rep.final(size)
	return nil
}
