package format

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/captions"
)

const ms = 90 // ticks per millisecond

type wantCue struct {
	id         uint64
	start, end int64 // ms
	lines      []string
}

func checkParsed(t *testing.T, f *File, want []wantCue) {
	t.Helper()
	if len(f.Cues) != len(want) {
		t.Fatalf("got %d cues, want %d: %+v", len(f.Cues), len(want), f.Cues)
	}
	for i, w := range want {
		c := f.Cues[i]
		if c.ID != w.id || c.Start != w.start*ms || c.End != w.end*ms || !slices.Equal(c.Lines, w.lines) {
			t.Errorf("cue %d: got id %d %d..%d %q, want %+v", i, c.ID, c.Start/ms, c.End/ms, c.Lines, w)
		}
	}
}

func kinds(ws []Warning) []WarningKind {
	var out []WarningKind
	for _, w := range ws {
		out = append(out, w.Kind)
	}
	return out
}

func TestParseSRT(t *testing.T) {
	in := "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there\r\n{\\an8}second line\r\n\r\n\r\n" +
		"00:00:03.000 --> 00:00:04,000 X1:10 X2:20\nno number\n\n" +
		"seven\n00:04,500 --> 1:00:05,1\n  spaced  \n\nmore text\nafter a gap\n\n" +
		"9\n00:00:04,000 --> 00:00:04,000\n\n"
	f, err := ParseSRT(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	checkParsed(t, f, []wantCue{
		{1, 1000, 2500, []string{"Hello there", "second line"}},
		{2, 3000, 4000, []string{"no number"}},
		{3, 4500, 3600000 + 5100, []string{"spaced", "more text", "after a gap"}},
		{9, 4000, 4000, nil},
	})
	if got, want := kinds(f.Warnings), []WarningKind{WarnIndex, WarnIndex, WarnBlock, WarnOverlap, WarnOrder, WarnEmpty}; !sameKinds(got, want) {
		t.Errorf("warnings %v, want %v:\n%v", got, want, f.Warnings)
	}
	if ov := f.Overlaps(); len(ov) != 1 || ov[0].Line != 18 || !strings.Contains(ov[0].String(), "line 18: overlap") {
		t.Errorf("overlaps %v", ov)
	}
	if f.Cues[2].Identifier != "seven" || f.Cues[2].Line != 11 {
		t.Errorf("cue 3 %+v", f.Cues[2])
	}
}

func sameKinds(a, b []WarningKind) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestParseVTT(t *testing.T) {
	in := "WEBVTT - live captions\nKind: captions\nX-TIMESTAMP-MAP=LOCAL:00:00:00.000,MPEGTS:900000\n\n" +
		"NOTE a comment\nwith two lines\n\n" +
		"STYLE\n::cue { color: yellow }\n\n" +
		"intro\n00:01.000 --> 00:02.000 align:start line:90%\n<v Anna>Tom &amp; Jerry &lt;3</v>\n<c.loud>big</c> &#x263A; &nbsp;&unknown;\n\n" +
		"7\n00:00:02.000 --> 00:00:03.000\n<00:00:02.500>karaoke\n\n" +
		"orphan block without timing\n\n" +
		"00:00:02.500 --> 00:00:04.000\nno identifier\n"
	f, err := ParseVTT(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	checkParsed(t, f, []wantCue{
		{1, 1000, 2000, []string{"Tom & Jerry <3", "big \u263a \u00a0&unknown;"}},
		{7, 2000, 3000, []string{"karaoke"}},
		{8, 2500, 4000, []string{"no identifier"}},
	})
	if f.TimestampMap == nil || f.TimestampMap.MPEGTS != 900000 || f.TimestampMap.Local != 0 {
		t.Errorf("timestamp map %+v", f.TimestampMap)
	}
	if got := kinds(f.Warnings); !sameKinds(got, []WarningKind{WarnBlock, WarnOverlap}) {
		t.Errorf("warnings %v", f.Warnings)
	}
	// No blank line after the header: the cue is still read.
	f, err = ParseVTT(strings.NewReader("WEBVTT\n1\n00:00.000 --> 00:01.000\nhi\n"))
	if err != nil {
		t.Fatal(err)
	}
	checkParsed(t, f, []wantCue{{1, 0, 1000, []string{"hi"}}})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) (*File, error)
		in    string
		line  int
		err   error
	}{
		{"srt bad start", srtParse, "1\n00:00:0x,000 --> 00:00:02,000\nhi\n", 2, ErrTimestamp},
		{"srt bad end", srtParse, "1\n00:00:01,000 --> soon\nhi\n", 2, ErrTimestamp},
		{"srt end before start", srtParse, "1\n00:00:01,000 --> 00:00:00,500\n", 2, ErrTiming},
		{"srt no end", srtParse, "\n\n1\n00:00:01,000 -->\nhi\n", 4, ErrTiming},
		{"srt minutes", srtParse, "1\n00:60:01,000 --> 01:00:02,000\n", 2, ErrTimestamp},
		{"srt fraction", srtParse, "1\n00:00:01,0000 --> 00:00:02,000\n", 2, ErrTimestamp},
		{"srt number without timing", srtParse, "1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\nlost\n", 5, ErrStructure},
		{"srt text first", srtParse, "hello\nworld\n", 1, ErrStructure},
		{"vtt no signature", vttParse, "WEBVTTX\n\n", 1, ErrHeader},
		{"vtt empty", vttParse, "", 1, ErrHeader},
		{"vtt srt file", vttParse, "1\n00:00:01,000 --> 00:00:02,000\n", 1, ErrHeader},
		{"vtt bad map", vttParse, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:x,LOCAL:00:00:00.000\n\n", 2, ErrHeader},
		{"vtt bad timing", vttParse, "WEBVTT\n\nid\n00:01.000 --> 00:00:0.5x\n", 4, ErrTimestamp},
		{"vtt hours overflow", vttParse, "WEBVTT\n\n1234567890:00:00.000 --> 1234567890:00:01.000\n", 3, ErrTimestamp},
	}
	for _, tt := range tests {
		_, err := tt.parse(tt.in)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != tt.line || !errors.Is(err, tt.err) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want line %d %v", tt.name, err, tt.line, tt.err)
			continue
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tt.line)) {
			t.Errorf("%s: message %q", tt.name, err)
		}
	}
}

func srtParse(s string) (*File, error) { return ParseSRT(strings.NewReader(s)) }
func vttParse(s string) (*File, error) { return ParseVTT(strings.NewReader(s)) }

// TestParseGolden reads the golden files back.
func TestParseGolden(t *testing.T) {
	want := make([]wantCue, len(goldenCues))
	for i, c := range goldenCues {
		var lines []string
		for _, l := range c.Lines {
			if l = cleanLine(l); l != "" {
				lines = append(lines, l)
			}
		}
		want[i] = wantCue{c.ID, millis(c.Start - origin), millis(c.End - origin), lines}
	}
	for _, tt := range []struct {
		f     Format
		o     Options
		parse func(string) (*File, error)
	}{
		{VTT, Options{TimeBase: FixedOrigin, Origin: origin, TimestampMap: true}, vttParse},
		{SRT, Options{TimeBase: FixedOrigin, Origin: origin}, srtParse},
	} {
		if tt.f == SRT {
			want[1].lines = []string{`Tom & Jerry ‹live> --> "now"`}
		}
		f, err := tt.parse(string(writeAll(t, tt.f, tt.o, goldenCues)))
		if err != nil {
			t.Fatalf("%s: %v", tt.f, err)
		}
		checkParsed(t, f, want)
		if len(f.Warnings) != 0 {
			t.Errorf("%s: warnings %v", tt.f, f.Warnings)
		}
		if tt.f == VTT && (f.TimestampMap == nil || f.TimestampMap.MPEGTS != origin) {
			t.Errorf("timestamp map %+v", f.TimestampMap)
		}
	}
}

// roundTrip parses, writes and parses again; the cues must not change.
func roundTrip(t *testing.T, data []byte, format Format, parse func(string) (*File, error)) {
	f1, err := parse(string(data))
	if err != nil {
		var pe *ParseError
		norm := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
		if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > strings.Count(norm, "\n")+1 {
			t.Fatalf("error without a valid line: %v", err)
		}
		return
	}
	out := writeAll(t, format, Options{TimeBase: Absolute}, f1.Captions())
	f2, err := parse(string(out))
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	c1, c2 := f1.Captions(), f2.Captions()
	if !slices.EqualFunc(c1, c2, func(a, b captions.Cue) bool {
		return a.ID == b.ID && a.Start == b.Start && a.End == b.End && slices.Equal(a.Lines, b.Lines)
	}) {
		t.Fatalf("round trip changed the cues:\n%+v\n%+v\nwritten:\n%q", c1, c2, out)
	}
	// Writing again gives the same bytes.
	if out2 := writeAll(t, format, Options{TimeBase: Absolute}, c2); !bytes.Equal(out, out2) {
		t.Fatalf("second write differs:\n%q\n%q", out, out2)
	}
}

var srtSeeds = []string{
	"1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\n00:00:02,500 --> 00:00:04,000\n<i>two</i>\nlines\n",
	"\ufeff00:00:01.5 --> 00:00:02\r\nno index\r\n\r\ncontinued\r\n",
	"3\n00:00:01,000 --> 00:00:01,000\n\n1\n00:00:00,000 --> 00:00:05,000\n<<b>b>x {\\an8}y --> z\n",
	"1\n00:00:01,000 --> 00:00:0x,000\n",
}

var vttSeeds = []string{
	"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nHello &amp; <b>bye</b>\n",
	"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\nNOTE x\n\n00:01.000 --> 00:02.000 align:start\n&#10;&lt;b&gt; &#x0;\n",
	"WEBVTT\r\n00:00.000 --> 00:01.000\r\nno blank\r\n\r\norphan\r\n\r\nid\r\n00:00.500 --> 00:00.700\r\n\r\n",
	"WEBVTT\n\n00:00.000 --> 00:00.000\n",
}

func FuzzParseSRT(f *testing.F) {
	for _, s := range srtSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { roundTrip(t, data, SRT, srtParse) })
}

func FuzzParseVTT(f *testing.F) {
	for _, s := range vttSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { roundTrip(t, data, VTT, vttParse) })
}

func TestSRTSafe(t *testing.T) {
	for in, want := range map[string]string{
		"a < b > c":   "a < b > c",
		"<i>x</i>":    "‹i>x‹/i>",
		"<a<b>":       "‹a‹b>",
		`{\an8}top`:   `｛\an8}top`,
		"no tags {x}": "no tags {x}",
	} {
		got := srtSafe(in)
		if got != want {
			t.Errorf("srtSafe(%q) = %q, want %q", in, got, want)
		}
		if stripTags(got, true) != got {
			t.Errorf("srtSafe(%q) = %q still has a tag", in, got)
		}
	}
}
