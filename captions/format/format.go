// Package format writes and reads caption files: WebVTT, SRT, TTML (IMSC1
// text profile) and JSON lines.
//
// Writers stream: WriteHeader once per file, WriteCue once per final cue
// (each cue is one Write call, so a file sink that appends and fsyncs after
// every cue never holds a torn cue), and WriteFooter when the file is
// closed. WebVTT, SRT and JSON lines have an empty footer, so a file cut off
// after any WriteCue is complete; they are the formats to use for live
// files. TTML is an XML document that is well-formed only with its footer;
// a live TTML file is produced crash-consistently by rewrite-on-rotate: keep
// the live journal in JSON lines (or WebVTT), and write the TTML document
// from the journal's cues in one go with WriteAll into a temporary file,
// fsync it, and rename it over the target (at each rotation and at close).
// After a crash the journal is complete and the last renamed TTML is valid.
//
// Times in files are media time relative to an origin (see TimeBase), with
// millisecond resolution. Parsers for SRT and WebVTT are lenient about the
// usual deviations and report malformed input with line numbers.
package format

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/subtitled/subtitled/captions"
)

// Writer writes one caption file format. A Writer holds the time origin
// once fixed, so one Writer may write several files in sequence (one per
// rotation) with consistent times. It is not safe for concurrent use.
type Writer interface {
	// WriteHeader starts a file.
	WriteHeader(w io.Writer) error
	// WriteCue appends one cue with a single Write call.
	WriteCue(w io.Writer, c captions.Cue) error
	// WriteFooter ends a file (empty except for TTML).
	WriteFooter(w io.Writer) error
}

// Format names a caption file format.
type Format string

// The formats.
const (
	VTT  Format = "vtt"
	SRT  Format = "srt"
	TTML Format = "ttml"
	JSON Format = "json"
)

// Formats lists the formats in a stable order.
var Formats = []Format{VTT, SRT, TTML, JSON}

// ErrUnknownFormat is returned by ParseFormat and NewWriter.
var ErrUnknownFormat = errors.New("format: unknown caption format")

// ParseFormat accepts a format name or file extension: vtt|webvtt,
// srt, ttml|xml|dfxp, json|jsonl.
func ParseFormat(name string) (Format, error) {
	switch strings.ToLower(strings.TrimPrefix(name, ".")) {
	case "vtt", "webvtt":
		return VTT, nil
	case "srt":
		return SRT, nil
	case "ttml", "xml", "dfxp":
		return TTML, nil
	case "json", "jsonl":
		return JSON, nil
	}
	return "", fmt.Errorf("%w: %q (want vtt, srt, ttml or json)", ErrUnknownFormat, name)
}

// Extension is the usual file extension, with the dot.
func (f Format) Extension() string {
	switch f {
	case VTT:
		return ".vtt"
	case SRT:
		return ".srt"
	case TTML:
		return ".ttml"
	case JSON:
		return ".jsonl"
	}
	return ""
}

// TimeBase says which media time a file shows as 00:00:00.000.
type TimeBase int

const (
	// FirstCue: the first cue the Writer writes starts at 0. Use FixedOrigin
	// with the stream's first PTS when the file must line up with the media.
	FirstCue TimeBase = iota
	// FixedOrigin: Options.Origin is 0.
	FixedOrigin
	// Absolute: PTS 0 is 0, so file times are PTS/90000.
	Absolute
)

// Options configures a Writer.
type Options struct {
	TimeBase TimeBase
	// Origin is the PTS shown as 0 with FixedOrigin.
	Origin int64
	// TimestampMap (WebVTT) writes X-TIMESTAMP-MAP=MPEGTS:<origin>,LOCAL:00:00:00.000
	// for HLS. It needs FixedOrigin or Absolute, since the header is written
	// before any cue.
	TimestampMap bool
	// Language is the TTML xml:lang (BCP 47); empty means "und".
	Language string
}

// Errors from NewWriter.
var (
	ErrOriginRequired = errors.New("format: X-TIMESTAMP-MAP needs a fixed origin (FixedOrigin or Absolute)")
	ErrInvalidOptions = errors.New("format: invalid writer options")
)

// NewWriter returns a Writer for the format.
func NewWriter(f Format, o Options) (Writer, error) {
	if o.TimeBase < FirstCue || o.TimeBase > Absolute {
		return nil, fmt.Errorf("%w: TimeBase %d", ErrInvalidOptions, int(o.TimeBase))
	}
	if o.TimestampMap && f != VTT {
		return nil, fmt.Errorf("%w: TimestampMap is for WebVTT only", ErrInvalidOptions)
	}
	tm := newClock(o)
	switch f {
	case VTT:
		if o.TimestampMap && o.TimeBase == FirstCue {
			return nil, ErrOriginRequired
		}
		return &vttWriter{opts: o, clock: tm}, nil
	case SRT:
		return &srtWriter{clock: tm}, nil
	case TTML:
		return &ttmlWriter{opts: o, clock: tm}, nil
	case JSON:
		return &jsonWriter{clock: tm}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownFormat, string(f))
}

// WriteAll writes a whole file: header, cues, footer.
func WriteAll(w io.Writer, fw Writer, cues []captions.Cue) error {
	if err := fw.WriteHeader(w); err != nil {
		return err
	}
	for _, c := range cues {
		if err := fw.WriteCue(w, c); err != nil {
			return err
		}
	}
	return fw.WriteFooter(w)
}

// clock maps PTS to file time in ticks.
type clock struct {
	base   TimeBase
	origin int64
	set    bool
}

func newClock(o Options) *clock {
	switch o.TimeBase {
	case FixedOrigin:
		return &clock{base: o.TimeBase, origin: o.Origin, set: true}
	case Absolute:
		return &clock{base: o.TimeBase, origin: 0, set: true}
	}
	return &clock{base: o.TimeBase}
}

// times returns a cue's start and end in file ticks. Times before the
// origin are clamped to 0, and the end is never before the start.
func (c *clock) times(cue captions.Cue) (start, end int64) {
	if !c.set {
		c.origin, c.set = cue.Start, true
	}
	start = max(cue.Start-c.origin, 0)
	end = max(cue.End-c.origin, start)
	return start, end
}

// millis rounds ticks (≥ 0) to milliseconds (90 ticks each).
func millis(ticks int64) int64 { return (ticks + 45) / 90 }

// writeNumberedCue writes one SRT or WebVTT cue block: the cue ID, the
// start --> end line with sep before the milliseconds, each cleaned line
// through esc, and a blank line.
func writeNumberedCue(w io.Writer, c captions.Cue, start, end int64, sep byte, esc func(string) string) error {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(c.ID, 10))
	b.WriteByte('\n')
	b.WriteString(clockTime(start, sep))
	b.WriteString(" --> ")
	b.WriteString(clockTime(end, sep))
	b.WriteByte('\n')
	for _, l := range cleanLines(c.Lines) {
		b.WriteString(esc(l))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// clockTime formats ticks as hh:mm:ss<sep>mmm.
func clockTime(ticks int64, sep byte) string {
	ms := millis(ticks)
	h, ms := ms/3600000, ms%3600000
	m, ms := ms/60000, ms%60000
	s, ms := ms/1000, ms%1000
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", h, m, s, sep, ms)
}

// cleanLine makes a cue line safe for a line-based format: control
// characters (line breaks included) become spaces and the ends are
// trimmed. The parsers apply the same cleaning, so writing what they read
// gives it back.
func cleanLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// cleanLines cleans the lines and drops empty ones.
func cleanLines(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if l = cleanLine(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
