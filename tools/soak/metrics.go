package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// series is one line of the Prometheus text exposition format.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape is one parsed /metrics answer, indexed by series key.
type scrape struct {
	list  []series
	byKey map[string]float64
}

// seriesKey identifies a series by its name and sorted labels.
func seriesKey(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// parseMetrics parses the Prometheus text format (version 0.0.4): comment
// and blank lines are skipped; every other line is
// `name[{label="value",...}] value [timestamp]`.
func parseMetrics(text string) (*scrape, error) {
	s := &scrape{byKey: map[string]float64{}}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		se, err := parseSeriesLine(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", n+1, err)
		}
		s.list = append(s.list, se)
		s.byKey[seriesKey(se.name, se.labels)] = se.value
	}
	return s, nil
}

func isNameChar(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

func parseSeriesLine(line string) (series, error) {
	se := series{}
	i := 0
	for i < len(line) && isNameChar(line[i], i == 0) {
		i++
	}
	if i == 0 {
		return se, fmt.Errorf("no metric name in %q: %w", line, errMalformed)
	}
	se.name = line[:i]
	if i < len(line) && line[i] == '{' {
		labels, rest, err := parseLabels(line[i+1:])
		if err != nil {
			return se, fmt.Errorf("%s: %w", se.name, err)
		}
		se.labels = labels
		line, i = rest, 0
	}
	f := strings.Fields(line[i:])
	if len(f) < 1 || len(f) > 2 {
		return se, fmt.Errorf("%s: want a value and an optional timestamp, got %q: %w", se.name, line[i:], errMalformed)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return se, fmt.Errorf("%s: value %q: %w", se.name, f[0], errMalformed)
	}
	if len(f) == 2 {
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			return se, fmt.Errorf("%s: timestamp %q: %w", se.name, f[1], errMalformed)
		}
	}
	se.value = v
	return se, nil
}

// parseLabels parses `name="value",...}` (the text after '{') and returns
// the labels and the text after '}'.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skipSpace()
		if i < len(s) && s[i] == '}' {
			return labels, s[i+1:], nil
		}
		start := i
		for i < len(s) && isNameChar(s[i], i == start) && s[i] != ':' {
			i++
		}
		if i == start {
			return nil, "", fmt.Errorf("bad label name at %q: %w", s[start:], errMalformed)
		}
		name := s[start:i]
		skipSpace()
		if i >= len(s) || s[i] != '=' {
			return nil, "", fmt.Errorf("label %s: want =: %w", name, errMalformed)
		}
		i++
		skipSpace()
		if i >= len(s) || s[i] != '"' {
			return nil, "", fmt.Errorf("label %s: want a quoted value: %w", name, errMalformed)
		}
		i++
		var v strings.Builder
		closed := false
		for i < len(s) && !closed {
			c := s[i]
			switch c {
			case '\\':
				if i+1 >= len(s) {
					return nil, "", fmt.Errorf("label %s: escape at end: %w", name, errMalformed)
				}
				switch s[i+1] {
				case '\\':
					v.WriteByte('\\')
				case '"':
					v.WriteByte('"')
				case 'n':
					v.WriteByte('\n')
				default:
					return nil, "", fmt.Errorf("label %s: bad escape \\%c: %w", name, s[i+1], errMalformed)
				}
				i += 2
			case '"':
				closed = true
				i++
			default:
				v.WriteByte(c)
				i++
			}
		}
		if !closed {
			return nil, "", fmt.Errorf("label %s: unterminated value: %w", name, errMalformed)
		}
		if _, dup := labels[name]; dup {
			return nil, "", fmt.Errorf("label %s repeated: %w", name, errMalformed)
		}
		labels[name] = v.String()
		skipSpace()
		switch {
		case i < len(s) && s[i] == ',':
			i++
		case i < len(s) && s[i] == '}':
		default:
			return nil, "", fmt.Errorf("after label %s: want , or }: %w", name, errMalformed)
		}
	}
}

// sum adds the values of every series called name.
func (s *scrape) sum(name string) float64 {
	var t float64
	for _, se := range s.list {
		if se.name == name {
			t += se.value
		}
	}
	return t
}

// has reports whether the scrape holds a series of that name.
func (s *scrape) has(name string) bool {
	for _, se := range s.list {
		if se.name == name {
			return true
		}
	}
	return false
}

// value returns the series with exactly these labels.
func (s *scrape) value(name string, labels map[string]string) (float64, bool) {
	v, ok := s.byKey[seriesKey(name, labels)]
	return v, ok
}

// counterDelta sums the increase of every series called name from prev to
// cur. A series missing from prev, or lower than in prev (its channel was
// restarted and the counter recreated), counts from zero. A nil prev counts
// every series from zero.
func counterDelta(prev, cur *scrape, name string) float64 {
	var d float64
	for _, se := range cur.list {
		if se.name != name {
			continue
		}
		d += seriesDelta(prev, se)
	}
	return d
}

func seriesDelta(prev *scrape, se series) float64 {
	if prev == nil {
		return se.value
	}
	p, ok := prev.byKey[seriesKey(se.name, se.labels)]
	if !ok || se.value < p {
		return se.value
	}
	return se.value - p
}

// histogram is a cumulative histogram: cum[i] observations were ≤ bounds[i];
// the last bound is +Inf.
type histogram struct {
	bounds []float64
	cum    []float64
	sum    float64
	count  float64
}

// histogramDelta returns what histogram name gained from prev to cur,
// summed over every label set (channels).
func histogramDelta(prev, cur *scrape, name string) histogram {
	byBound := map[float64]float64{}
	for _, se := range cur.list {
		if se.name != name+"_bucket" {
			continue
		}
		le, err := strconv.ParseFloat(se.labels["le"], 64)
		if err != nil {
			continue
		}
		byBound[le] += seriesDelta(prev, se)
	}
	h := histogramFrom(byBound)
	h.sum = counterDelta(prev, cur, name+"_sum")
	h.count = counterDelta(prev, cur, name+"_count")
	return h
}

func histogramFrom(byBound map[float64]float64) histogram {
	var h histogram
	for b := range byBound {
		h.bounds = append(h.bounds, b)
	}
	sort.Float64s(h.bounds)
	for _, b := range h.bounds {
		h.cum = append(h.cum, byBound[b])
	}
	return h
}

// add accumulates o into h.
func (h *histogram) add(o histogram) {
	byBound := map[float64]float64{}
	for i, b := range h.bounds {
		byBound[b] += h.cum[i]
	}
	for i, b := range o.bounds {
		byBound[b] += o.cum[i]
	}
	n := histogramFrom(byBound)
	n.sum, n.count = h.sum+o.sum, h.count+o.count
	*h = n
}

// total is the number of observations (the +Inf bucket).
func (h histogram) total() float64 {
	if len(h.cum) == 0 {
		return 0
	}
	return h.cum[len(h.cum)-1]
}

// mean is sum/count, NaN without observations.
func (h histogram) mean() float64 {
	if h.count <= 0 {
		return math.NaN()
	}
	return h.sum / h.count
}

// quantile estimates the q-quantile by linear interpolation inside the
// bucket that holds it, as Prometheus' histogram_quantile does, except that
// a quantile in the +Inf bucket is +Inf (above every finite bound). NaN
// without observations.
func (h histogram) quantile(q float64) float64 {
	total := h.total()
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	for i, b := range h.bounds {
		if h.cum[i] < rank {
			continue
		}
		if math.IsInf(b, 1) {
			return b
		}
		lower, lowerCum := 0.0, 0.0
		if i > 0 {
			lower, lowerCum = h.bounds[i-1], h.cum[i-1]
		}
		if h.cum[i] == lowerCum {
			return b
		}
		return lower + (b-lower)*(rank-lowerCum)/(h.cum[i]-lowerCum)
	}
	return math.NaN()
}

// maxBound is the upper bound of the highest bucket holding an observation:
// every observation was at most this (+Inf when one exceeded every finite
// bound). NaN without observations.
func (h histogram) maxBound() float64 {
	total := h.total()
	if total <= 0 {
		return math.NaN()
	}
	for i, b := range h.bounds {
		if h.cum[i] >= total {
			return b
		}
	}
	return math.Inf(1)
}
