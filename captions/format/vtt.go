package format

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/subtitled/subtitled/captions"
)

// pts33 is the MPEG-TS timestamp range.
const pts33 = int64(1) << 33

type vttWriter struct {
	opts  Options
	clock *clock
}

// WriteHeader writes "WEBVTT", the optional X-TIMESTAMP-MAP and a blank line.
func (v *vttWriter) WriteHeader(w io.Writer) error {
	h := "WEBVTT\n"
	if v.opts.TimestampMap {
		mpegts := ((v.clock.origin % pts33) + pts33) % pts33
		h += fmt.Sprintf("X-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n", mpegts)
	}
	_, err := io.WriteString(w, h+"\n")
	return err
}

// WriteCue writes the cue with its ID as the cue identifier.
func (v *vttWriter) WriteCue(w io.Writer, c captions.Cue) error {
	start, end := v.clock.times(c)
	return writeNumberedCue(w, c, start, end, '.', vttEscape)
}

// WriteFooter writes nothing.
func (v *vttWriter) WriteFooter(io.Writer) error { return nil }

var vttEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func vttEscape(s string) string { return vttEscaper.Replace(s) }

// vttEntities are the named character references WebVTT (and common
// practice) uses.
var vttEntities = map[string]string{
	"amp": "&", "lt": "<", "gt": ">", "nbsp": "\u00a0", "lrm": "\u200e", "rlm": "\u200f",
	"quot": `"`, "apos": "'",
}

// vttUnescape decodes character references; unknown ones stay literal.
func vttUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '&' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := strings.IndexByte(s[i:], ';')
		if j < 2 || j > 12 {
			b.WriteByte('&')
			i++
			continue
		}
		name := s[i+1 : i+j]
		if r, ok := vttEntities[name]; ok {
			b.WriteString(r)
			i += j + 1
			continue
		}
		if name[0] == '#' {
			var v uint64
			var err error
			if len(name) > 1 && (name[1] == 'x' || name[1] == 'X') {
				v, err = strconv.ParseUint(name[2:], 16, 32)
			} else {
				v, err = strconv.ParseUint(name[1:], 10, 32)
			}
			if err == nil {
				r := rune(v)
				if v == 0 || !utf8.ValidRune(r) {
					r = utf8.RuneError
				}
				b.WriteRune(r)
				i += j + 1
				continue
			}
		}
		b.WriteByte('&')
		i++
	}
	return b.String()
}

// vttText turns a cue payload line into plain text: tags stripped, character
// references decoded, cleaned.
func vttText(s string) string { return cleanLine(vttUnescape(stripTags(s, false))) }

// ParseVTT reads a WebVTT file. It requires the WEBVTT signature line and
// well-formed cue timings; it accepts CR/LF variants, a BOM, a missing
// blank line after the header, ',' before the milliseconds, missing hours,
// cue settings, and NOTE/STYLE/REGION blocks (skipped). Cue text is
// returned as plain text (tags removed, references decoded). Blocks without
// a timing line are skipped with a warning; overlapping or out-of-order cues
// are kept and reported in File.Warnings.
func ParseVTT(r io.Reader) (*File, error) {
	ls, err := readLines(r)
	if err != nil {
		return nil, err
	}
	f := &File{Format: VTT}
	if len(ls) == 0 {
		return nil, perr(1, ErrHeader, "empty file: want WEBVTT")
	}
	sig := ls[0].text
	if !strings.HasPrefix(sig, "WEBVTT") || (len(sig) > 6 && sig[6] != ' ' && sig[6] != '\t') {
		return nil, perr(1, ErrHeader, "%q: want WEBVTT", truncate(sig))
	}
	// Header lines run to the first blank line.
	i := 1
	for ; i < len(ls) && !blank(ls[i].text); i++ {
		t := ls[i].text
		if isTiming(t) {
			f.warn(ls[i].n, WarnBlock, "cue timing in the header (no blank line after WEBVTT)")
			// Back up over a cue identifier line, if any.
			if i > 1 && !isHeaderSetting(ls[i-1].text) {
				i--
			}
			break
		}
		if v, ok := strings.CutPrefix(t, "X-TIMESTAMP-MAP="); ok {
			tm, err := parseTimestampMap(v)
			if err != nil {
				return nil, perr(ls[i].n, ErrHeader, "X-TIMESTAMP-MAP: %v", err)
			}
			f.TimestampMap = tm
		}
	}
	var prevID uint64
	for _, bl := range blocks(ls[i:]) {
		first := strings.TrimSpace(bl[0].text)
		if !isTiming(bl[0].text) && (isKeyword(first, "NOTE") || isKeyword(first, "STYLE") || isKeyword(first, "REGION")) {
			continue
		}
		var ident string
		timing := 0
		if !isTiming(bl[0].text) {
			if len(bl) < 2 || !isTiming(bl[1].text) {
				f.warn(bl[0].n, WarnBlock, "block without a cue timing skipped: %q", truncate(bl[0].text))
				continue
			}
			ident, timing = bl[0].text, 1
		}
		start, end, err := parseTiming(bl[timing])
		if err != nil {
			return nil, err
		}
		id, ok := parseID(ident)
		if !ok {
			id = prevID + 1
		}
		prevID = id
		c := ParsedCue{Cue: captions.Cue{ID: id, Start: start, End: end}, Line: bl[timing].n, Identifier: ident}
		for _, l := range bl[timing+1:] {
			if t := vttText(l.text); t != "" {
				c.Lines = append(c.Lines, t)
			}
		}
		f.Cues = append(f.Cues, c)
	}
	f.checkOrder()
	return f, nil
}

// isHeaderSetting reports whether a header line looks like a setting
// ("X-TIMESTAMP-MAP=…", "Kind: captions") rather than a cue identifier.
func isHeaderSetting(s string) bool {
	return strings.Contains(s, "=") || strings.Contains(s, ":")
}

func isKeyword(s, kw string) bool {
	rest, ok := strings.CutPrefix(s, kw)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// parseTimestampMap reads "MPEGTS:900000,LOCAL:00:00:00.000" (either order).
func parseTimestampMap(s string) (*TimestampMap, error) {
	tm := &TimestampMap{}
	var haveTS, haveLocal bool
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("%q: want KEY:VALUE", part)
		}
		switch k {
		case "MPEGTS":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("MPEGTS %q is not a non-negative integer", v)
			}
			tm.MPEGTS, haveTS = n, true
		case "LOCAL":
			t, err := parseTimestamp(v)
			if err != nil {
				return nil, fmt.Errorf("LOCAL: %w", err)
			}
			tm.Local, haveLocal = t, true
		default:
			return nil, fmt.Errorf("unknown key %q", k)
		}
	}
	if !haveTS || !haveLocal {
		return nil, fmt.Errorf("%q: want MPEGTS and LOCAL", s)
	}
	return tm, nil
}

func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
