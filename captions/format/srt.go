package format

import (
	"io"
	"strings"

	"github.com/subtitled/subtitled/captions"
)

type srtWriter struct{ clock *clock }

// WriteHeader writes nothing: SRT has no header.
func (s *srtWriter) WriteHeader(io.Writer) error { return nil }

// WriteCue writes the cue with its ID as the cue number. SRT has no
// escaping: lines are written as they are (cleaned of line breaks), except
// that text players would take for markup, "<x…>" or "{\…}", has its
// opening bracket replaced by "‹" or "｛".
func (s *srtWriter) WriteCue(w io.Writer, c captions.Cue) error {
	start, end := s.clock.times(c)
	return writeNumberedCue(w, c, start, end, ',', srtSafe)
}

// WriteFooter writes nothing.
func (s *srtWriter) WriteFooter(io.Writer) error { return nil }

// srtSafe defuses text that would read as a tag.
func srtSafe(s string) string {
	for stripTags(s, true) != s {
		s = srtSafeOnce(s)
	}
	return s
}

func srtSafeOnce(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '<' && i+1 < len(s) && tagStart(s[i+1]) {
			if j := strings.IndexAny(s[i+1:], "<>"); j >= 0 && s[i+1+j] == '>' {
				b.WriteString("‹")
				continue
			}
		}
		if c == '{' && i+1 < len(s) && s[i+1] == '\\' {
			if j := strings.IndexAny(s[i+1:], "{}"); j >= 0 && s[i+1+j] == '}' {
				b.WriteString("｛")
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// srtText turns an SRT text line into plain text: HTML-like tags and SSA
// {\…} overrides stripped, cleaned.
func srtText(s string) string { return cleanLine(stripTags(s, true)) }

// ParseSRT reads a SubRip file. Cue timings must be well-formed; it accepts
// CR/LF variants, a BOM, extra blank lines, a missing or non-numeric cue
// number (the ID then follows the previous one; warned), '.' before the
// milliseconds, missing hours, coordinates after the end time, and text
// that continues after a blank line (joined to the previous cue; warned).
// Tags (<i>, <font …>, {\an8}) are removed. Overlapping or out-of-order
// cues are kept and reported in File.Warnings.
func ParseSRT(r io.Reader) (*File, error) {
	ls, err := readLines(r)
	if err != nil {
		return nil, err
	}
	f := &File{Format: SRT}
	var prevID uint64
	for _, bl := range blocks(ls) {
		var ident string
		timing := 0
		switch {
		case isTiming(bl[0].text):
			f.warn(bl[0].n, WarnIndex, "cue number missing")
		case len(bl) >= 2 && isTiming(bl[1].text):
			ident, timing = strings.TrimSpace(bl[0].text), 1
		default:
			if _, isNum := parseID(bl[0].text); isNum {
				return nil, perr(bl[0].n, ErrStructure, "cue %s has no timing line", strings.TrimSpace(bl[0].text))
			}
			if len(f.Cues) == 0 {
				return nil, perr(bl[0].n, ErrStructure, "%q: want a cue number or a timing line", truncate(bl[0].text))
			}
			f.warn(bl[0].n, WarnBlock, "text after a blank line joined to the previous cue")
			p := &f.Cues[len(f.Cues)-1]
			for _, l := range bl {
				if t := srtText(l.text); t != "" {
					p.Lines = append(p.Lines, t)
				}
			}
			continue
		}
		start, end, err := parseTiming(bl[timing])
		if err != nil {
			return nil, err
		}
		id, ok := parseID(ident)
		if !ok {
			if timing == 1 {
				f.warn(bl[0].n, WarnIndex, "cue number %q is not a number", truncate(ident))
			}
			id = prevID + 1
		}
		prevID = id
		c := ParsedCue{Cue: captions.Cue{ID: id, Start: start, End: end}, Line: bl[timing].n, Identifier: ident}
		for _, l := range bl[timing+1:] {
			if t := srtText(l.text); t != "" {
				c.Lines = append(c.Lines, t)
			}
		}
		f.Cues = append(f.Cues, c)
	}
	f.checkOrder()
	return f, nil
}
