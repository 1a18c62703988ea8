package daemon

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/subtitled/subtitled/internal/cmalloc"
)

// cHeapCollector exports the C heap (glibc malloc, which libavcodec and ONNX
// Runtime allocate from) next to the Go runtime's go_memstats_*: resident
// memory that grows while both stay flat is neither.
type cHeapCollector struct {
	bytes  *prometheus.Desc
	arenas *prometheus.Desc
}

func newCHeapCollector() *cHeapCollector {
	return &cHeapCollector{
		bytes: prometheus.NewDesc("subtitled_c_heap_bytes",
			"C heap (glibc malloc) bytes by state: in_use, free (held by the arenas, unused) and mmapped (large blocks mapped on their own).",
			[]string{"state"}, nil),
		arenas: prometheus.NewDesc("subtitled_c_heap_arenas", "glibc malloc arenas.", nil, nil),
	}
}

func (c *cHeapCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.arenas
}

func (c *cHeapCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := cmalloc.ReadStats()
	if err != nil {
		return // not glibc: no series
	}
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Free), "free")
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Mmapped), "mmapped")
	if st.Arenas > 0 {
		ch <- prometheus.MustNewConstMetric(c.arenas, prometheus.GaugeValue, float64(st.Arenas))
	}
}

// logCHeap reports the malloc settings made when the program was loaded
// (package cmalloc).
func (d *daemon) logCHeap() {
	s, err := cmalloc.Applied()
	switch {
	case err == nil:
		d.log.Info("C heap", "arena_max", s.ArenaMax, "mmap_threshold", s.MmapThreshold, "set_by_environment", s.Kept)
	case errors.Is(err, cmalloc.ErrUnsupported):
		d.log.Info("C heap not tuned", "reason", err)
	default:
		d.log.Warn("C heap", "err", err, "arena_max", s.ArenaMax, "mmap_threshold", s.MmapThreshold)
	}
}
