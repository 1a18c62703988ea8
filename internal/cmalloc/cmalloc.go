// Package cmalloc bounds the C heap of the process: the glibc malloc that
// the cgo libraries (libavcodec and libswresample in ingest/audio, ONNX
// Runtime in decoder/onnx) allocate from. Linking the package is what turns
// it on: package daemon imports it, so bin/subtitled has it.
//
// glibc gives each thread that allocates an arena of its own, up to 8 per
// core. A Go program calls C from whichever OS thread its goroutine runs
// on, so the calls of one decoder or model spread over many arenas, and each
// arena keeps the free memory of its own peak: resident memory creeps up
// for hours as arena after arena meets its worst moment. glibc also raises
// its mmap threshold to the size of the largest mapped block freed so far
// (up to 32 MiB): once ONNX Runtime has freed the multi-megabyte buffers of
// loading a model, later large blocks come from the arenas and leave holes
// there when freed, instead of going back to the kernel.
//
// When the program is loaded, before the Go runtime starts a thread, a C
// constructor in this package caps the arenas at DefaultArenaMax and fixes
// the mmap threshold at DefaultMmapThreshold (which also turns the dynamic
// thresholds off). A parameter the environment sets (MALLOC_ARENA_MAX,
// MALLOC_MMAP_THRESHOLD_ or the matching glibc.malloc tunable in
// GLIBC_TUNABLES) is left as the operator chose. Applied says what was
// done; docs/RELIABILITY.md ("Soak: native memory") has the measurements.
//
// Outside glibc (another libc, or a build without cgo) nothing is changed,
// and Applied and ReadStats return ErrUnsupported.
package cmalloc

import "errors"

// Settings applied when the program is loaded.
const (
	// DefaultArenaMax is the number of malloc arenas. C code runs on few
	// threads at a time (a model's scheduler, a channel's audio decoder,
	// each briefly), and glibc's per-thread caches spare a shared arena
	// most of its lock traffic.
	DefaultArenaMax = 2
	// DefaultMmapThreshold is the block size from which malloc maps memory
	// of its own, returned to the kernel when freed: glibc's initial
	// value, kept fixed.
	DefaultMmapThreshold = 128 << 10
)

// ErrUnsupported means the process does not use glibc malloc, or was built
// without cgo; nothing was changed.
var ErrUnsupported = errors.New("cmalloc: C allocator is not glibc malloc")

// ErrMallopt means glibc refused a setting.
var ErrMallopt = errors.New("cmalloc: mallopt failed")

// Settings say what was done when the program was loaded.
type Settings struct {
	// ArenaMax is the arena limit set, 0 when left alone.
	ArenaMax int
	// MmapThreshold is the mmap threshold set in bytes, 0 when left alone.
	MmapThreshold int
	// Kept names the environment variables that set a parameter, which
	// was therefore left alone, in the order arena limit, mmap threshold.
	Kept []string
}

// Stats are glibc's malloc totals over all arenas (mallinfo2).
type Stats struct {
	// InUse is the bytes of allocated blocks in the arenas.
	InUse uint64
	// Free is the bytes of free blocks the arenas hold: memory the process
	// keeps from the kernel without using it.
	Free uint64
	// Mmapped is the bytes of blocks mapped on their own (at or above the
	// mmap threshold).
	Mmapped uint64
	// Arenas is the number of arenas (0 if it could not be read).
	Arenas int
}

// Applied returns the settings made when the program was loaded. The error
// is ErrUnsupported without glibc, or wraps ErrMallopt when glibc refused a
// setting (the Settings then hold what did apply).
func Applied() (Settings, error) { return applied() }

// ReadStats returns the C heap's current totals. It walks every arena under
// its lock and formats glibc's malloc_info report: fine for a metrics
// scrape, not for a hot path.
func ReadStats() (Stats, error) { return readStats() }
