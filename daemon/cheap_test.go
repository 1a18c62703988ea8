package daemon

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCHeapCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCHeapCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]float64{}
	arenas := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "subtitled_c_heap_bytes":
				for _, l := range m.GetLabel() {
					if l.GetName() == "state" {
						states[l.GetValue()] = m.GetGauge().GetValue()
					}
				}
			case "subtitled_c_heap_arenas":
				arenas = m.GetGauge().GetValue()
			}
		}
	}
	// The tests run on Linux with glibc, and this test binary links
	// internal/cmalloc, which caps the arenas at 2.
	if len(states) != 3 || states["in_use"] <= 0 {
		t.Errorf("subtitled_c_heap_bytes = %v, want in_use > 0, free and mmapped", states)
	}
	if arenas < 1 || arenas > 2 {
		t.Errorf("subtitled_c_heap_arenas = %v, want 1 or 2", arenas)
	}
}
