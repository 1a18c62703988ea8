package format

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/captions"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const origin = 10 * captions.ClockRate // the stream's first PTS in the golden tests

func at(sec float64) int64 { return origin + int64(sec*captions.ClockRate+0.5) }

var emitted0 = time.Date(2024, 3, 1, 20, 0, 0, 0, time.UTC)

// goldenCues cover multi-line cues, characters each format must escape,
// non-ASCII text, line breaks inside a line, empty lines, sub-millisecond
// times and a time past one hour.
var goldenCues = []captions.Cue{
	{ID: 1, Track: "verbatim", Lines: []string{"Good evening, and welcome", "to the six o'clock news."},
		Start: at(1), End: at(3.5), Emitted: emitted0.Add(4 * time.Second)},
	{ID: 2, Track: "verbatim", Lines: []string{`Tom & Jerry <live> --> "now"`},
		Start: at(3.58), End: at(5.0001), Emitted: emitted0.Add(6*time.Second + 123456789)},
	{ID: 3, Track: "verbatim", Lines: []string{"Grüße aus Köln,", "日本語も。"},
		Start: at(5.2), End: at(7.9)},
	{ID: 4, Track: "verbatim", Lines: []string{"broken\nline", "  padded  ", ""},
		Start: at(8), End: at(9)},
	{ID: 5, Track: "verbatim", Lines: []string{"Much later."},
		Start: at(3723.456), End: at(3725), Emitted: emitted0.Add(time.Hour)},
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func writeAll(t *testing.T, f Format, o Options, cues []captions.Cue) []byte {
	t.Helper()
	w, err := NewWriter(f, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteAll(&buf, w, cues); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	fixed := Options{TimeBase: FixedOrigin, Origin: origin}
	tests := []struct {
		name string
		f    Format
		o    Options
	}{
		{"vtt", VTT, Options{}},
		{"vtt_hls", VTT, Options{TimeBase: FixedOrigin, Origin: origin, TimestampMap: true}},
		{"vtt_absolute", VTT, Options{TimeBase: Absolute}},
		{"srt", SRT, fixed},
		{"ttml", TTML, Options{TimeBase: FixedOrigin, Origin: origin, Language: "en-GB"}},
		{"jsonl", JSON, fixed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, writeAll(t, tt.f, tt.o, goldenCues))
		})
	}
}

// TestStreaming checks that cue-by-cue writing equals WriteAll and that
// every WriteCue is a single Write (so a file sink never tears a cue).
func TestStreaming(t *testing.T) {
	for _, f := range Formats {
		w, err := NewWriter(f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		cw := &countingWriter{}
		if err := w.WriteHeader(cw); err != nil {
			t.Fatal(err)
		}
		for i, c := range goldenCues {
			before := cw.writes
			if err := w.WriteCue(cw, c); err != nil {
				t.Fatal(err)
			}
			if cw.writes != before+1 {
				t.Errorf("%s: cue %d took %d writes", f, i, cw.writes-before)
			}
		}
		if err := w.WriteFooter(cw); err != nil {
			t.Fatal(err)
		}
		if want := writeAll(t, f, Options{}, goldenCues); !bytes.Equal(cw.buf.Bytes(), want) {
			t.Errorf("%s: streamed output differs from WriteAll", f)
		}
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.buf.Write(p)
}

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(VTT, Options{TimestampMap: true}); !errors.Is(err, ErrOriginRequired) {
		t.Errorf("timestamp map without origin: %v", err)
	}
	if _, err := NewWriter(SRT, Options{TimestampMap: true}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("timestamp map on SRT: %v", err)
	}
	if _, err := NewWriter("ass", Options{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := ParseFormat("sub"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("ParseFormat: %v", err)
	}
	for name, want := range map[string]Format{"vtt": VTT, ".WebVTT": VTT, "srt": SRT, "dfxp": TTML, "jsonl": JSON} {
		if got, err := ParseFormat(name); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", name, got, err)
		}
	}
	// A failing destination surfaces its error.
	w, _ := NewWriter(VTT, Options{})
	if err := w.WriteCue(failWriter{}, goldenCues[0]); err == nil {
		t.Errorf("write error lost")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestTimes(t *testing.T) {
	// Before the origin clamps to zero; FirstCue takes the first cue.
	w, _ := NewWriter(SRT, Options{})
	var buf bytes.Buffer
	_ = w.WriteCue(&buf, captions.Cue{ID: 1, Start: 1000, End: 2000})
	_ = w.WriteCue(&buf, captions.Cue{ID: 2, Start: 500, End: 1090})
	want := "1\n00:00:00,000 --> 00:00:00,011\n\n2\n00:00:00,000 --> 00:00:00,001\n\n"
	if buf.String() != want {
		t.Errorf("got %q", buf.String())
	}
	for ticks, want := range map[int64]string{0: "00:00:00.000", 44: "00:00:00.000", 45: "00:00:00.001",
		90 * 1000 * 3600 * 100: "100:00:00.000", 90*59999 + 30: "00:00:59.999"} {
		if got := clockTime(ticks, '.'); got != want {
			t.Errorf("clockTime(%d) = %s, want %s", ticks, got, want)
		}
	}
	if got := seconds(135045); got != "1.5005" {
		t.Errorf("seconds = %s", got)
	}
}

func TestTTMLWellFormed(t *testing.T) {
	doc := writeAll(t, TTML, Options{Language: "de"}, goldenCues)
	d := xml.NewDecoder(bytes.NewReader(doc))
	ps, brs := 0, 0
	var texts []string
	inP := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "tt" {
				if e.Name.Space != nsTT {
					t.Errorf("tt namespace %q", e.Name.Space)
				}
				attrs := map[xml.Name]string{}
				for _, a := range e.Attr {
					attrs[a.Name] = a.Value
				}
				if attrs[xml.Name{Space: nsParameter, Local: "profile"}] != IMSC1TextProfile {
					t.Errorf("profile: %v", attrs)
				}
				if attrs[xml.Name{Space: "http://www.w3.org/XML/1998/namespace", Local: "lang"}] != "de" {
					t.Errorf("xml:lang: %v", attrs)
				}
			}
			if e.Name.Local == "p" {
				ps++
				inP = true
				texts = append(texts, "")
				if e.Name.Space != nsTT {
					t.Errorf("p namespace %q", e.Name.Space)
				}
			}
			if e.Name.Local == "br" {
				brs++
				texts[len(texts)-1] += "\n"
			}
		case xml.EndElement:
			if e.Name.Local == "p" {
				inP = false
			}
		case xml.CharData:
			if inP {
				texts[len(texts)-1] += string(e)
			}
		}
	}
	if ps != len(goldenCues) {
		t.Errorf("%d p elements, want %d", ps, len(goldenCues))
	}
	if texts[1] != goldenCues[1].Lines[0] || texts[0] != strings.Join(goldenCues[0].Lines, "\n") {
		t.Errorf("texts %q", texts[:2])
	}
}

func TestJSONLines(t *testing.T) {
	out := writeAll(t, JSON, Options{TimeBase: FixedOrigin, Origin: origin}, goldenCues)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(goldenCues) {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		var v struct {
			ID      uint64
			Track   string
			Lines   []string
			Start   float64
			End     float64
			Emitted string
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		c := goldenCues[i]
		if v.ID != c.ID || v.Track != c.Track || !slices.Equal(v.Lines, c.Lines) {
			t.Errorf("line %d: %+v", i, v)
		}
		// Six decimals recover the PTS exactly.
		if got := int64(v.Start*captions.ClockRate+0.5) + origin; got != c.Start {
			t.Errorf("line %d: start %v → %d, want %d", i, v.Start, got, c.Start)
		}
		if !c.Emitted.IsZero() {
			e, err := time.Parse(time.RFC3339Nano, v.Emitted)
			if err != nil || !e.Equal(c.Emitted) {
				t.Errorf("line %d: emitted %q", i, v.Emitted)
			}
		} else if v.Emitted != "" {
			t.Errorf("line %d: emitted %q for a zero time", i, v.Emitted)
		}
	}
}
