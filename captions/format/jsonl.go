package format

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/subtitled/subtitled/captions"
)

type jsonWriter struct{ clock *clock }

// jsonCue is one JSON line. Start and End are seconds from the origin with
// microsecond resolution (enough to recover the 90 kHz PTS exactly).
type jsonCue struct {
	ID      uint64      `json:"id"`
	Track   string      `json:"track"`
	Lines   []string    `json:"lines"`
	Start   json.Number `json:"start"`
	End     json.Number `json:"end"`
	Emitted string      `json:"emitted,omitempty"`
}

// WriteHeader writes nothing.
func (j *jsonWriter) WriteHeader(io.Writer) error { return nil }

// WriteCue writes one JSON object and a newline:
//
//	{"id":7,"track":"verbatim","lines":["Good evening."],"start":12.5,"end":14.08,"emitted":"2024-01-01T20:00:03.123456789Z"}
//
// emitted is RFC 3339 with nanoseconds in UTC, omitted when unknown.
func (j *jsonWriter) WriteCue(w io.Writer, c captions.Cue) error {
	start, end := j.clock.times(c)
	lines := c.Lines
	if lines == nil {
		lines = []string{}
	}
	jc := jsonCue{
		ID:    c.ID,
		Track: c.Track,
		Lines: lines,
		Start: seconds(start),
		End:   seconds(end),
	}
	if !c.Emitted.IsZero() {
		jc.Emitted = c.Emitted.UTC().Format(time.RFC3339Nano)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jc); err != nil { // Encode adds the newline
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteFooter writes nothing.
func (j *jsonWriter) WriteFooter(io.Writer) error { return nil }

// seconds formats ticks as decimal seconds, at most six decimals, no
// trailing zeros.
func seconds(ticks int64) json.Number {
	s := strconv.FormatFloat(float64(ticks)/captions.ClockRate, 'f', 6, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	return json.Number(s)
}
