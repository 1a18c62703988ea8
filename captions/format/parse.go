package format

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/subtitled/subtitled/captions"
)

// Parse errors. Every error from ParseSRT and ParseVTT is a *ParseError
// wrapping one of these, and all of them wrap ErrMalformed.
var (
	ErrMalformed = errors.New("malformed caption file")
	ErrHeader    = fmt.Errorf("%w: bad header", ErrMalformed)
	ErrTimestamp = fmt.Errorf("%w: bad timestamp", ErrMalformed)
	ErrTiming    = fmt.Errorf("%w: bad cue timing", ErrMalformed)
	ErrStructure = fmt.Errorf("%w: unexpected line", ErrMalformed)
)

// ParseError is a malformed-input error at a line (1-based).
type ParseError struct {
	Line int
	Err  error  // one of the sentinels above
	Msg  string // what was wrong
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d: %v: %s", e.Line, e.Err, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

func perr(line int, err error, format string, args ...any) error {
	return &ParseError{Line: line, Err: err, Msg: fmt.Sprintf(format, args...)}
}

// WarningKind classifies a Warning.
type WarningKind int

const (
	// WarnOverlap: a cue starts before an earlier cue ends.
	WarnOverlap WarningKind = iota
	// WarnOrder: a cue starts before the previous cue starts.
	WarnOrder
	// WarnIndex: an SRT cue number is missing or not a number.
	WarnIndex
	// WarnBlock: a block was skipped (WebVTT) or joined to the previous cue
	// (SRT, text after a blank line), or the WebVTT header ran into a cue.
	WarnBlock
	// WarnEmpty: a cue has no text, or ends when it starts.
	WarnEmpty
)

var warnNames = [...]string{"overlap", "order", "index", "block", "empty"}

func (k WarningKind) String() string {
	if int(k) < len(warnNames) {
		return warnNames[k]
	}
	return strconv.Itoa(int(k))
}

// Warning is something a lenient parser accepted but a caller may want to
// refuse or report.
type Warning struct {
	Line int
	Kind WarningKind
	Msg  string
}

func (w Warning) String() string { return fmt.Sprintf("line %d: %s: %s", w.Line, w.Kind, w.Msg) }

// ParsedCue is a cue read from a file. Start and End are in ticks from the
// file's 00:00:00.000 (add the stream's origin to place them in media time).
// Track and Emitted are empty.
type ParsedCue struct {
	captions.Cue
	// Line is the line of the cue's timing line.
	Line int
	// Identifier is the SRT cue number or WebVTT cue identifier as written.
	// Cue.ID is its value when it is a number, else the previous ID + 1.
	Identifier string
}

// TimestampMap is a WebVTT X-TIMESTAMP-MAP header: file time Local (ticks)
// is MPEG-TS time MPEGTS (90 kHz).
type TimestampMap struct {
	MPEGTS int64
	Local  int64
}

// File is a parsed caption file.
type File struct {
	Format       Format
	Cues         []ParsedCue
	Warnings     []Warning
	TimestampMap *TimestampMap // WebVTT only, when present
}

// Captions returns the cues as captions.Cue values.
func (f *File) Captions() []captions.Cue {
	out := make([]captions.Cue, len(f.Cues))
	for i, c := range f.Cues {
		out[i] = c.Cue
	}
	return out
}

// Overlaps returns the overlap warnings.
func (f *File) Overlaps() []Warning {
	var out []Warning
	for _, w := range f.Warnings {
		if w.Kind == WarnOverlap {
			out = append(out, w)
		}
	}
	return out
}

func (f *File) warn(line int, kind WarningKind, format string, args ...any) {
	f.Warnings = append(f.Warnings, Warning{Line: line, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// checkOrder adds order and overlap warnings, and empty-cue warnings.
func (f *File) checkOrder() {
	var maxEnd int64
	maxIdx := -1
	for i, c := range f.Cues {
		if len(c.Lines) == 0 {
			f.warn(c.Line, WarnEmpty, "cue %s has no text", c.Identifier)
		} else if c.End == c.Start {
			f.warn(c.Line, WarnEmpty, "cue %s ends when it starts", c.Identifier)
		}
		if i > 0 && c.Start < f.Cues[i-1].Start {
			f.warn(c.Line, WarnOrder, "cue starts at %s, before the previous cue (line %d) starts at %s",
				clockTime(c.Start, '.'), f.Cues[i-1].Line, clockTime(f.Cues[i-1].Start, '.'))
		}
		if maxIdx >= 0 && c.Start < maxEnd {
			p := f.Cues[maxIdx]
			f.warn(c.Line, WarnOverlap, "cue starts at %s, before the cue at line %d ends at %s",
				clockTime(c.Start, '.'), p.Line, clockTime(maxEnd, '.'))
		}
		if maxIdx < 0 || c.End > maxEnd {
			maxEnd, maxIdx = c.End, i
		}
	}
	sort.SliceStable(f.Warnings, func(i, j int) bool { return f.Warnings[i].Line < f.Warnings[j].Line })
}

// line is one input line with its number.
type line struct {
	n    int
	text string
}

// readLines reads all of r, drops a UTF-8 BOM and splits on CRLF, CR or LF.
func readLines(r io.Reader) ([]line, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("format: read: %w", err)
	}
	s := strings.TrimPrefix(string(data), "\ufeff")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	parts := strings.Split(s, "\n")
	if len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	out := make([]line, len(parts))
	for i, p := range parts {
		out[i] = line{n: i + 1, text: p}
	}
	return out, nil
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// blocks splits lines into runs of non-blank lines.
func blocks(ls []line) [][]line {
	var out [][]line
	var cur []line
	for _, l := range ls {
		if blank(l.text) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func isTiming(s string) bool { return strings.Contains(s, "-->") }

// maxHourDigits bounds the hours of a timestamp so that times fit in int64.
const maxHourDigits = 9

// parseTimestamp reads [h+:]mm:ss[.,]fff leniently: one or two digits for
// minutes and seconds, one to three for the fraction (which may be
// missing), any number of hour digits up to maxHourDigits.
func parseTimestamp(s string) (int64, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("%q is not [hh:]mm:ss.mmm", s)
	}
	var h int64
	if len(parts) == 3 {
		v, err := digits(parts[0], 1, maxHourDigits)
		if err != nil {
			return 0, fmt.Errorf("%q: hours: %w", s, err)
		}
		h = v
		parts = parts[1:]
	}
	m, err := digits(parts[0], 1, 2)
	if err != nil || m > 59 {
		return 0, fmt.Errorf("%q: minutes must be 00-59", s)
	}
	sec, frac := parts[1], ""
	if i := strings.IndexAny(sec, ".,"); i >= 0 {
		sec, frac = sec[:i], sec[i+1:]
		if frac == "" {
			return 0, fmt.Errorf("%q: empty fraction", s)
		}
	}
	sv, err := digits(sec, 1, 2)
	if err != nil || sv > 59 {
		return 0, fmt.Errorf("%q: seconds must be 00-59", s)
	}
	var ms int64
	if frac != "" {
		v, err := digits(frac, 1, 3)
		if err != nil {
			return 0, fmt.Errorf("%q: fraction must be 1-3 digits", s)
		}
		for range 3 - len(frac) {
			v *= 10
		}
		ms = v
	}
	return ((h*3600+m*60+sv)*1000 + ms) * 90, nil
}

// digits parses a decimal of minN..maxN ASCII digits.
func digits(s string, minN, maxN int) (int64, error) {
	if len(s) < minN || len(s) > maxN {
		return 0, fmt.Errorf("%q: want %d-%d digits", s, minN, maxN)
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: not a number", s)
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

// parseTiming reads "start --> end [settings]".
func parseTiming(l line) (start, end int64, err error) {
	i := strings.Index(l.text, "-->")
	left := strings.TrimSpace(l.text[:i])
	right := strings.Fields(l.text[i+3:])
	if left == "" || len(right) == 0 {
		return 0, 0, perr(l.n, ErrTiming, "%q: want START --> END", l.text)
	}
	if start, err = parseTimestamp(left); err != nil {
		return 0, 0, perr(l.n, ErrTimestamp, "start: %v", err)
	}
	if end, err = parseTimestamp(right[0]); err != nil {
		return 0, 0, perr(l.n, ErrTimestamp, "end: %v", err)
	}
	if end < start {
		return 0, 0, perr(l.n, ErrTiming, "end %s is before start %s", clockTime(end, '.'), clockTime(start, '.'))
	}
	return start, end, nil
}

// stripTags removes markup: <tag …> and </tag> (and WebVTT <00:01.000>
// timestamps), and with braces also SSA overrides {\…}. It repeats until
// nothing changes, so its output never contains a tag.
func stripTags(s string, braces bool) string {
	for {
		t := stripOnce(s, braces)
		if t == s {
			return s
		}
		s = t
	}
}

func stripOnce(s string, braces bool) string {
	if !strings.ContainsAny(s, "<{") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c == '<' && i+1 < len(s) && tagStart(s[i+1]) {
			if j := strings.IndexAny(s[i+1:], "<>"); j >= 0 && s[i+1+j] == '>' {
				i += j + 2
				continue
			}
		}
		if braces && c == '{' && i+1 < len(s) && s[i+1] == '\\' {
			if j := strings.IndexAny(s[i+1:], "{}"); j >= 0 && s[i+1+j] == '}' {
				i += j + 2
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func tagStart(c byte) bool {
	return c == '/' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// parseID reads a cue number; ok is false when s is not one.
func parseID(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}
