package main

import (
	"math"
	"testing"
	"time"
)

func TestSlope(t *testing.T) {
	tests := []struct {
		name string
		pts  [][2]float64
		want float64 // NaN: undefined
	}{
		{"none", nil, math.NaN()},
		{"one point", [][2]float64{{1, 5}}, math.NaN()},
		{"same x", [][2]float64{{2, 1}, {2, 3}}, math.NaN()},
		{"flat", [][2]float64{{0, 7}, {1, 7}, {2, 7}}, 0},
		{"line", [][2]float64{{0, 1}, {1, 1.5}, {2, 2}, {3, 2.5}}, 0.5},
		{"falling", [][2]float64{{10, 4}, {12, 0}}, -2},
		// Noise around y = 2x: the fit's slope, not the end points'.
		{"noisy", [][2]float64{{0, 1}, {1, 1}, {2, 5}, {3, 5}}, 1.6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slope(tt.pts)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9) {
				t.Errorf("slope = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadTrend(t *testing.T) {
	nan := math.NaN()
	at := func(min float64, phase string, rssMiB, cMiB float64) sample {
		return sample{elapsed: time.Duration(min * float64(time.Minute)), phase: phase, rssKiB: uint64(rssMiB * 1024), cHeapMiB: cMiB}
	}
	samples := []sample{
		at(1, phaseWarmup, 90, 20),
		at(2, phaseRun, 100, 30), // before the reference
		at(3, phaseRun, 110, 40),
		at(4, phaseRun, 111, nan), // metrics failed
		at(5, phaseRun, 112, 41),
		at(6, phaseDrain, 150, 60),
	}
	rss, c, first, last := loadTrend(samples, 3*time.Minute)
	if math.Abs(rss-1) > 1e-9 || math.Abs(c-0.5) > 1e-9 || first != 40 || last != 41 {
		t.Errorf("loadTrend = RSS %v MiB/min, C heap %v MiB/min from %v to %v; want 1, 0.5, 40, 41", rss, c, first, last)
	}
	rss, c, first, last = loadTrend(samples[:1], 0)
	if !math.IsNaN(rss) || !math.IsNaN(c) || !math.IsNaN(first) || !math.IsNaN(last) {
		t.Errorf("no run samples: loadTrend = %v %v %v %v, want NaN", rss, c, first, last)
	}
}

func TestScrapeHas(t *testing.T) {
	s := mustParse(t, metricsA)
	for name, want := range map[string]bool{
		"subtitled_cues_total": true, "go_goroutines": true,
		"subtitled_c_heap_bytes": false, "subtitled_cues": false, "": false,
	} {
		if got := s.has(name); got != want {
			t.Errorf("has(%q) = %v, want %v", name, got, want)
		}
	}
}
