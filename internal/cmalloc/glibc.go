//go:build cgo && linux

package cmalloc

/*
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The settings; glibc.go checks that they equal DefaultArenaMax and
// DefaultMmapThreshold.
#define CM_ARENA_MAX 2
#define CM_MMAP_THRESHOLD (128 << 10)

// What cm_init did, for Applied.
enum {
	CM_KEPT_ARENA_ENV = 1,      // MALLOC_ARENA_MAX
	CM_KEPT_ARENA_TUNABLE = 2,  // glibc.malloc.arena_max in GLIBC_TUNABLES
	CM_KEPT_MMAP_ENV = 4,       // MALLOC_MMAP_THRESHOLD_
	CM_KEPT_MMAP_TUNABLE = 8,   // glibc.malloc.mmap_threshold in GLIBC_TUNABLES
	CM_FAILED_ARENA = 16,
	CM_FAILED_MMAP = 32,
	CM_NOT_GLIBC = 64,
};
static int cm_flags, cm_arena_max, cm_mmap_threshold;

static int cm_get_flags(void) { return cm_flags; }
static int cm_get_arena_max(void) { return cm_arena_max; }
static int cm_get_mmap_threshold(void) { return cm_mmap_threshold; }

// cm_tunable reports whether GLIBC_TUNABLES (name=value pairs separated by
// colons) sets name.
static int cm_tunable(const char *name) {
	const char *t = getenv("GLIBC_TUNABLES");
	size_t n = strlen(name);
	while (t && *t) {
		const char *end = strchr(t, ':');
		size_t len = end ? (size_t)(end - t) : strlen(t);
		if (len > n && strncmp(t, name, n) == 0 && t[n] == '=')
			return 1;
		t = end ? end + 1 : NULL;
	}
	return 0;
}

static int cm_env(const char *name) {
	const char *v = getenv(name);
	return v && *v;
}

// cm_init runs when the program is loaded, before any thread exists.
__attribute__((constructor)) static void cm_init(void) {
#ifdef __GLIBC__
	if (cm_env("MALLOC_ARENA_MAX"))
		cm_flags |= CM_KEPT_ARENA_ENV;
	else if (cm_tunable("glibc.malloc.arena_max"))
		cm_flags |= CM_KEPT_ARENA_TUNABLE;
	else if (mallopt(M_ARENA_MAX, CM_ARENA_MAX) == 1)
		cm_arena_max = CM_ARENA_MAX;
	else
		cm_flags |= CM_FAILED_ARENA;
	if (cm_env("MALLOC_MMAP_THRESHOLD_"))
		cm_flags |= CM_KEPT_MMAP_ENV;
	else if (cm_tunable("glibc.malloc.mmap_threshold"))
		cm_flags |= CM_KEPT_MMAP_TUNABLE;
	else if (mallopt(M_MMAP_THRESHOLD, CM_MMAP_THRESHOLD) == 1)
		cm_mmap_threshold = CM_MMAP_THRESHOLD;
	else
		cm_flags |= CM_FAILED_MMAP;
#else
	cm_flags = CM_NOT_GLIBC;
#endif
}

static void cm_stats(uint64_t *in_use, uint64_t *free_bytes, uint64_t *mmapped) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 m = mallinfo2();
	*in_use = m.uordblks;
	*free_bytes = m.fordblks;
	*mmapped = m.hblkhd;
#elif defined(__GLIBC__)
	struct mallinfo m = mallinfo();
	*in_use = (unsigned int)m.uordblks;
	*free_bytes = (unsigned int)m.fordblks;
	*mmapped = (unsigned int)m.hblkhd;
#else
	*in_use = *free_bytes = *mmapped = 0;
#endif
}

// cm_arenas counts the arenas in malloc_info's report (one <heap nr=...>
// element each), or returns -1.
static int cm_arenas(void) {
#ifdef __GLIBC__
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -1;
	int rc = malloc_info(0, f);
	fclose(f);
	int n = -1;
	if (rc == 0 && buf) {
		n = 0;
		for (const char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++)
			n++;
	}
	free(buf);
	return n;
#else
	return -1;
#endif
}

// cm_touch allocates and frees a small block on the calling thread, which
// gives a thread that has none its arena.
static void cm_touch(void) {
	void *volatile p = malloc(64);
	free(p);
}
*/
import "C"

import "fmt"

// The C settings equal the Go constants (an array of negative length does
// not compile).
var (
	_ [DefaultArenaMax - C.CM_ARENA_MAX]struct{}
	_ [C.CM_ARENA_MAX - DefaultArenaMax]struct{}
	_ [DefaultMmapThreshold - C.CM_MMAP_THRESHOLD]struct{}
	_ [C.CM_MMAP_THRESHOLD - DefaultMmapThreshold]struct{}
)

func applied() (Settings, error) {
	f := int(C.cm_get_flags())
	if f&C.CM_NOT_GLIBC != 0 {
		return Settings{}, ErrUnsupported
	}
	s := Settings{ArenaMax: int(C.cm_get_arena_max()), MmapThreshold: int(C.cm_get_mmap_threshold())}
	for _, k := range []struct {
		flag int
		name string
	}{
		{C.CM_KEPT_ARENA_ENV, "MALLOC_ARENA_MAX"},
		{C.CM_KEPT_ARENA_TUNABLE, "GLIBC_TUNABLES"},
		{C.CM_KEPT_MMAP_ENV, "MALLOC_MMAP_THRESHOLD_"},
		{C.CM_KEPT_MMAP_TUNABLE, "GLIBC_TUNABLES"},
	} {
		if f&k.flag != 0 {
			s.Kept = append(s.Kept, k.name)
		}
	}
	switch {
	case f&C.CM_FAILED_ARENA != 0:
		return s, fmt.Errorf("%w: M_ARENA_MAX %d", ErrMallopt, DefaultArenaMax)
	case f&C.CM_FAILED_MMAP != 0:
		return s, fmt.Errorf("%w: M_MMAP_THRESHOLD %d", ErrMallopt, DefaultMmapThreshold)
	}
	return s, nil
}

func readStats() (Stats, error) {
	if C.cm_get_flags()&C.CM_NOT_GLIBC != 0 {
		return Stats{}, ErrUnsupported
	}
	var inUse, free, mmapped C.uint64_t
	C.cm_stats(&inUse, &free, &mmapped)
	st := Stats{InUse: uint64(inUse), Free: uint64(free), Mmapped: uint64(mmapped)}
	if n := C.cm_arenas(); n > 0 {
		st.Arenas = int(n)
	}
	return st, nil
}

// touch makes a C allocation on the calling OS thread (for the tests).
func touch() { C.cm_touch() }
