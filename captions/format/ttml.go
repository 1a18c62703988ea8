package format

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/subtitled/subtitled/captions"
)

// IMSC1TextProfile is the IMSC 1.0.1 text profile designator.
const IMSC1TextProfile = "http://www.w3.org/ns/ttml/profile/imsc1/text"

// TTML namespaces.
const (
	nsTT        = "http://www.w3.org/ns/ttml"
	nsParameter = "http://www.w3.org/ns/ttml#parameter"
	nsStyling   = "http://www.w3.org/ns/ttml#styling"
)

type ttmlWriter struct {
	opts  Options
	clock *clock
}

// WriteHeader writes the XML declaration, the tt element with the IMSC1
// text profile, minimal styling (white on black, centred, bottom region)
// and opens body and div.
func (t *ttmlWriter) WriteHeader(w io.Writer) error {
	lang := t.opts.Language
	if lang == "" {
		lang = "und"
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<tt xmlns="` + nsTT + `" xmlns:ttp="` + nsParameter + `" xmlns:tts="` + nsStyling + `"`)
	b.WriteString(` ttp:profile="` + IMSC1TextProfile + `" ttp:timeBase="media" xml:lang="`)
	xmlEscape(&b, lang)
	b.WriteString("\">\n")
	b.WriteString(`  <head>
    <styling>
      <style xml:id="s1" tts:color="white" tts:backgroundColor="black" tts:fontFamily="proportionalSansSerif" tts:fontSize="100%" tts:lineHeight="125%" tts:textAlign="center"/>
    </styling>
    <layout>
      <region xml:id="bottom" tts:origin="10% 10%" tts:extent="80% 80%" tts:displayAlign="after" tts:textAlign="center"/>
    </layout>
  </head>
  <body style="s1" region="bottom">
    <div>
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCue writes one p element; lines are separated by br.
func (t *ttmlWriter) WriteCue(w io.Writer, c captions.Cue) error {
	start, end := t.clock.times(c)
	var b strings.Builder
	b.WriteString(`      <p xml:id="c`)
	b.WriteString(strconv.FormatUint(c.ID, 10))
	b.WriteString(`" begin="`)
	b.WriteString(clockTime(start, '.'))
	b.WriteString(`" end="`)
	b.WriteString(clockTime(end, '.'))
	b.WriteString(`">`)
	for i, l := range cleanLines(c.Lines) {
		if i > 0 {
			b.WriteString("<br/>")
		}
		xmlText(&b, l)
	}
	b.WriteString("</p>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFooter closes div, body and tt.
func (t *ttmlWriter) WriteFooter(w io.Writer) error {
	_, err := io.WriteString(w, "    </div>\n  </body>\n</tt>\n")
	return err
}

// xmlEscape writes s as an XML attribute value (quotes escaped too);
// characters XML cannot hold become U+FFFD.
func xmlEscape(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a strings.Builder never fails
}

// xmlText writes s as XML character data: & < > escaped, characters XML
// cannot hold (and invalid UTF-8) replaced by U+FFFD.
func xmlText(b *strings.Builder, s string) {
	for i, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"),
			!xmlChar(r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
}

// xmlChar reports whether r is allowed in XML 1.0 documents.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}
