package main

import (
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/tools/procstat"
)

func TestParseMetrics(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []series
		bad  bool
	}{
		{name: "comments and blanks", text: "# HELP x y\n# TYPE x counter\n\n", want: nil},
		{name: "bare", text: "go_goroutines 42\n", want: []series{{name: "go_goroutines", value: 42}}},
		{name: "labels", text: `subtitled_cues_total{channel="ch1",track="verbatim"} 7` + "\n",
			want: []series{{name: "subtitled_cues_total", labels: map[string]string{"channel": "ch1", "track": "verbatim"}, value: 7}}},
		{name: "escapes, spaces, trailing comma, timestamp", text: `m{ a = "x\"y\\z\n" , b="}",} 1.5e3 1712000000000`,
			want: []series{{name: "m", labels: map[string]string{"a": "x\"y\\z\n", "b": "}"}, value: 1500}}},
		{name: "empty labels, specials", text: "a{} +Inf\nb NaN\nc -Inf\nd:e 1e1\n",
			want: []series{{name: "a", labels: map[string]string{}, value: math.Inf(1)}, {name: "b", value: math.NaN()},
				{name: "c", value: math.Inf(-1)}, {name: "d:e", value: 10}}},
		{name: "no value", text: "x\n", bad: true},
		{name: "bad value", text: "x abc\n", bad: true},
		{name: "bad timestamp", text: "x 1 2.5\n", bad: true},
		{name: "extra field", text: "x 1 2 3\n", bad: true},
		{name: "no name", text: "{a=\"b\"} 1\n", bad: true},
		{name: "digit first", text: "1x 1\n", bad: true},
		{name: "unterminated value", text: `x{a="b} 1`, bad: true},
		{name: "unquoted value", text: `x{a=b} 1`, bad: true},
		{name: "bad escape", text: `x{a="\t"} 1`, bad: true},
		{name: "repeated label", text: `x{a="1",a="2"} 1`, bad: true},
		{name: "missing comma", text: `x{a="1" b="2"} 1`, bad: true},
		{name: "unclosed labels", text: `x{a="1"`, bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseMetrics(tc.text)
			if tc.bad {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("err = %v, want errMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.list) != len(tc.want) {
				t.Fatalf("got %d series %+v, want %d", len(s.list), s.list, len(tc.want))
			}
			for i, w := range tc.want {
				g := s.list[i]
				sameValue := g.value == w.value || (math.IsNaN(g.value) && math.IsNaN(w.value))
				sameLabels := reflect.DeepEqual(g.labels, w.labels) || len(g.labels)+len(w.labels) == 0
				if g.name != w.name || !sameValue || !sameLabels {
					t.Errorf("series %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

const metricsA = `# TYPE subtitled_cues_total counter
subtitled_cues_total{channel="ch1",track="subtitle"} 3
subtitled_cues_total{channel="ch1",track="verbatim"} 4
subtitled_cues_total{channel="ch2",track="verbatim"} 10
subtitled_final_latency_seconds_bucket{channel="ch1",le="1"} 1
subtitled_final_latency_seconds_bucket{channel="ch1",le="2"} 3
subtitled_final_latency_seconds_bucket{channel="ch1",le="+Inf"} 4
subtitled_final_latency_seconds_sum{channel="ch1"} 6
subtitled_final_latency_seconds_count{channel="ch1"} 4
go_goroutines 50
`

// metricsB is later: ch1 counted on, ch2 was restarted (its counter began
// again), ch3 is new.
const metricsB = `subtitled_cues_total{channel="ch1",track="subtitle"} 5
subtitled_cues_total{channel="ch1",track="verbatim"} 4
subtitled_cues_total{channel="ch2",track="verbatim"} 2
subtitled_cues_total{channel="ch3",track="verbatim"} 1
subtitled_final_latency_seconds_bucket{channel="ch1",le="1"} 1
subtitled_final_latency_seconds_bucket{channel="ch1",le="2"} 5
subtitled_final_latency_seconds_bucket{channel="ch1",le="+Inf"} 7
subtitled_final_latency_seconds_sum{channel="ch1"} 16
subtitled_final_latency_seconds_count{channel="ch1"} 7
subtitled_final_latency_seconds_bucket{channel="ch2",le="1"} 1
subtitled_final_latency_seconds_bucket{channel="ch2",le="2"} 1
subtitled_final_latency_seconds_bucket{channel="ch2",le="+Inf"} 1
subtitled_final_latency_seconds_sum{channel="ch2"} 0.5
subtitled_final_latency_seconds_count{channel="ch2"} 1
go_goroutines 61
`

func mustParse(t *testing.T, text string) *scrape {
	t.Helper()
	s, err := parseMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCounterDeltaAndHistogram(t *testing.T) {
	a, b := mustParse(t, metricsA), mustParse(t, metricsB)
	if got := a.sum("subtitled_cues_total"); got != 17 {
		t.Errorf("sum = %v, want 17", got)
	}
	if got, ok := b.value("subtitled_cues_total", map[string]string{"track": "verbatim", "channel": "ch3"}); !ok || got != 1 {
		t.Errorf("value = %v %v, want 1", got, ok)
	}
	// ch1: +2 +0; ch2 reset: counts 2 from zero; ch3 new: 1.
	if got := counterDelta(a, b, "subtitled_cues_total"); got != 5 {
		t.Errorf("counterDelta = %v, want 5", got)
	}
	if got := counterDelta(nil, a, "subtitled_cues_total"); got != 17 {
		t.Errorf("counterDelta from nil = %v, want 17", got)
	}
	h := histogramDelta(a, b, "subtitled_final_latency_seconds")
	// ch1 gained le1 0, le2 2, inf 3 (sum 10, count 3); ch2 is new: 1,1,1 (0.5, 1).
	wantBounds, wantCum := []float64{1, 2, math.Inf(1)}, []float64{1, 3, 4}
	if !reflect.DeepEqual(h.bounds, wantBounds) || !reflect.DeepEqual(h.cum, wantCum) || h.sum != 10.5 || h.count != 4 {
		t.Fatalf("histogramDelta = %+v", h)
	}
	if got := h.mean(); got != 10.5/4 {
		t.Errorf("mean = %v", got)
	}
	// rank 2 of 4 lies in (1,2]: 1 + (2-1)*(2-1)/(3-1) = 1.5.
	if got := h.quantile(0.5); got != 1.5 {
		t.Errorf("p50 = %v, want 1.5", got)
	}
	// rank 3.96 lies in +Inf: above every finite bound.
	if got := h.quantile(0.99); !math.IsInf(got, 1) {
		t.Errorf("p99 = %v, want +Inf", got)
	}
	for q, want := range map[float64]string{0.5: "1.50 s", 0.99: "> 2 s", 1: "> 2 s"} {
		if got := fmtLatency(h, q); got != want {
			t.Errorf("fmtLatency(%v) = %q, want %q", q, got, want)
		}
	}
	if got := fmtLatency(histogramDelta(nil, a, "subtitled_final_latency_seconds"), 1); got != "> 2 s" {
		t.Errorf("fmtLatency(max) = %q", got)
	}
	finite := histogram{bounds: []float64{1, 2, math.Inf(1)}, cum: []float64{1, 2, 2}, count: 2}
	if got := fmtLatency(finite, 1); got != "≤ 2.00 s" {
		t.Errorf("fmtLatency(finite max) = %q", got)
	}
	if got := fmtLatency(histogram{}, 0.5); got != "-" {
		t.Errorf("fmtLatency(empty) = %q", got)
	}
	if got := h.maxBound(); !math.IsInf(got, 1) {
		t.Errorf("maxBound = %v, want +Inf", got)
	}
	var acc histogram
	acc.add(h)
	acc.add(histogramDelta(nil, a, "subtitled_final_latency_seconds"))
	if !reflect.DeepEqual(acc.cum, []float64{2, 6, 8}) || acc.count != 8 || acc.sum != 16.5 {
		t.Fatalf("add = %+v", acc)
	}
	if got := acc.quantile(0.25); got != 1 {
		t.Errorf("p25 = %v, want 1", got)
	}
	var empty histogram
	if !math.IsNaN(empty.quantile(0.5)) || !math.IsNaN(empty.mean()) || !math.IsNaN(empty.maxBound()) {
		t.Error("empty histogram should give NaN")
	}
}

func TestParseProc(t *testing.T) {
	stats := []struct {
		stat string
		want uint64
		bad  bool
	}{
		{stat: "4242 (subtitled) S 1 4242 4242 0 -1 4194560 1000 0 0 0 123 45 0 0 20 0 12 0 100 0 0", want: 168},
		{stat: "7 (a b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0\n", want: 3},
		{stat: "garbage", bad: true},
		{stat: "1 (x) S 1 2 3", bad: true},
		{stat: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 2", bad: true},
		{stat: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 -2", bad: true},
	}
	for _, tc := range stats {
		got, err := procstat.ParseStatTicks(tc.stat)
		if tc.bad {
			if !errors.Is(err, errMalformed) {
				t.Errorf("procstat.ParseStatTicks(%q) err = %v, want errMalformed", tc.stat, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("procstat.ParseStatTicks(%q) = %d, %v; want %d", tc.stat, got, err, tc.want)
		}
	}
	statuses := []struct {
		status string
		want   uint64
		bad    bool
	}{
		{status: "Name:\tsubtitled\nVmPeak:\t  100 kB\nVmRSS:\t   20480 kB\nThreads:\t5\n", want: 20480},
		{status: "Name:\tx\n", bad: true},
		{status: "VmRSS:\t12 MB\n", bad: true},
		{status: "VmRSS:\tlots kB\n", bad: true},
	}
	for _, tc := range statuses {
		got, err := procstat.ParseVmRSS(tc.status)
		if tc.bad {
			if !errors.Is(err, errMalformed) {
				t.Errorf("procstat.ParseVmRSS(%q) err = %v, want errMalformed", tc.status, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("procstat.ParseVmRSS(%q) = %d, %v; want %d", tc.status, got, err, tc.want)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.rssKiB == 0 || p.fds < 3 {
		t.Fatalf("readProc(self) = %+v", p)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add(metricsA)
	f.Add(`m{a="x\"y",b="}",} 1 2`)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseMetrics(text)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		for _, se := range s.list {
			if se.name == "" || strings.ContainsAny(se.name, " {}\"") {
				t.Fatalf("bad name %q", se.name)
			}
		}
	})
}

func FuzzParseProc(f *testing.F) {
	f.Add("4242 (subtitled) S 1 4242 4242 0 -1 4194560 1000 0 0 0 123 45 0 0 20 0 12 0 100 0 0")
	f.Add("Name:\tx\nVmRSS:\t   20480 kB\n")
	f.Fuzz(func(t *testing.T, text string) {
		if _, err := procstat.ParseStatTicks(text); err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("parseStatTicks: %v does not wrap errMalformed", err)
		}
		if _, err := procstat.ParseVmRSS(text); err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("parseVmRSS: %v does not wrap errMalformed", err)
		}
	})
}
