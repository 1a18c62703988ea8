package teletext

import (
	"strings"
	"unicode"
)

// Subset is a Latin G0 national option subset, the value of the header's
// control bits C12 (bit 0), C13 (bit 1) and C14 (bit 2).
type Subset uint8

// The national option subsets of EN 300 706 Table 32, first column (no X/28
// or M/29 designation, so Level 1 decoders select them from C12–C14).
const (
	SubsetEnglish Subset = 0
	SubsetFrench  Subset = 1
	SubsetSwedish Subset = 2 // Swedish, Finnish, Hungarian
	SubsetCzech   Subset = 3 // Czech, Slovak
	SubsetGerman  Subset = 4
	SubsetSpanish Subset = 5 // Spanish, Portuguese
	SubsetItalian Subset = 6
	// 7 is unassigned in the default G0 designation; it decodes as the
	// unmodified Latin G0 set here.
)

var subsetNames = [8]string{"English", "French", "Swedish/Finnish/Hungarian", "Czech/Slovak",
	"German", "Spanish/Portuguese", "Italian", "none"}

func (s Subset) String() string { return subsetNames[s&7] }

// nationalPos are the 13 G0 codes that change with the national option.
var nationalPos = [13]byte{0x23, 0x24, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E}

// nationalChars[s] holds the characters at nationalPos for subset s.
var nationalChars = [8][13]rune{
	SubsetEnglish: {'£', '$', '@', '←', '½', '→', '↑', '#', '—', '¼', '‖', '¾', '÷'},
	SubsetFrench:  {'é', 'ï', 'à', 'ë', 'ê', 'ù', 'î', '#', 'è', 'â', 'ô', 'û', 'ç'},
	SubsetSwedish: {'#', '¤', 'É', 'Ä', 'Ö', 'Å', 'Ü', '_', 'é', 'ä', 'ö', 'å', 'ü'},
	SubsetCzech:   {'#', 'ů', 'č', 'ť', 'ž', 'ý', 'í', 'ř', 'é', 'á', 'ě', 'ú', 'š'},
	SubsetGerman:  {'#', '$', '§', 'Ä', 'Ö', 'Ü', '^', '_', '°', 'ä', 'ö', 'ü', 'ß'},
	SubsetSpanish: {'ç', '$', '¡', 'á', 'é', 'í', 'ó', 'ú', '¿', 'ü', 'ñ', 'è', 'à'},
	SubsetItalian: {'£', '$', 'é', '°', 'ç', '→', '↑', '#', 'ù', 'à', 'ò', 'è', 'ì'},
	// 7: the unmodified Latin G0 set (see g0Plain).
	7: {'#', '¤', '@', '[', '\\', ']', '^', '_', '`', '{', '¦', '}', '~'},
}

// isNational reports whether code c is one of the national option positions.
func isNational(c byte) bool {
	for _, p := range nationalPos {
		if p == c {
			return true
		}
	}
	return false
}

// g0Rune is what a Level 1 decoder shows for G0 code c (0x20..0x7F) in
// subset s.
func g0Rune(s Subset, c byte) rune {
	for i, p := range nationalPos {
		if p == c {
			return nationalChars[s&7][i]
		}
	}
	if c == 0x7F {
		return '■'
	}
	return rune(c)
}

// g0Plain is the Latin G0 set without a national subset, as a column triplet
// with mode 0x10 (G0 character without diacritical mark) places it: ASCII
// except 0x24 ¤, 0x7C ¦ and 0x7F ■.
func g0Plain(c byte) rune { return g0Rune(7, c) }

// latinG2 is the Latin G2 supplementary set (EN 300 706 Table 37) from 0x20,
// as libzvbi maps it to Unicode. 0x49 (dot below) is shown as '.'.
var latinG2 = [96]rune{
	0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x0024, 0x00A5, 0x0023, 0x00A7, 0x00A4, 0x2018, 0x201C, 0x00AB, 0x2190, 0x2191, 0x2192, 0x2193,
	0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00D7, 0x00B5, 0x00B6, 0x00B7, 0x00F7, 0x2019, 0x201D, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF,
	0x0020, 0x02CB, 0x02CA, 0x02C6, 0x02DC, 0x02C9, 0x02D8, 0x02D9, 0x00A8, 0x002E, 0x02DA, 0x02CF, 0x02CD, 0x02DD, 0x02DB, 0x02C7,
	0x2014, 0x00B9, 0x00AE, 0x00A9, 0x2122, 0x266A, 0x20A0, 0x2030, 0x0251, 0x0020, 0x0020, 0x0020, 0x215B, 0x215C, 0x215D, 0x215E,
	0x2126, 0x00C6, 0x00D0, 0x00AA, 0x0126, 0x0020, 0x0132, 0x013F, 0x0141, 0x00D8, 0x0152, 0x00BA, 0x00DE, 0x0166, 0x014A, 0x0149,
	0x0138, 0x00E6, 0x0111, 0x00F0, 0x0127, 0x0131, 0x0133, 0x0140, 0x0142, 0x00F8, 0x0153, 0x00DF, 0x00FE, 0x0167, 0x014B, 0x25A0,
}

// g2Code maps a rune to its Latin G2 code. Blanks and the dot-below
// stand-in are left out, so every entry decodes back to its key.
var g2Code = map[rune]byte{}

// Diacritical marks of the G2 set (the d of X/26 modes 0x11–0x1F).
const (
	accGrave       = 1
	accAcute       = 2
	accCircumflex  = 3
	accTilde       = 4
	accMacron      = 5
	accBreve       = 6
	accDot         = 7
	accDiaeresis   = 8
	accRing        = 10
	accCedilla     = 11
	accDoubleAcute = 13
	accOgonek      = 14
	accCaron       = 15
)

// composedSets lists, per diacritical mark, the precomposed letters and
// their base letters, pairwise. Only combinations that libzvbi 0.2.41
// composes are listed (its table lacks Ģ ģ Ķ ķ Ļ ļ Ņ ņ Ŗ ŗ Ť ť and ĺ; those
// go through the replacement table instead).
var composedSets = []struct {
	acc      int
	composed string
	base     string
}{
	{accGrave, "ÀÈÌÒÙàèìòù", "AEIOUaeiou"},
	{accAcute, "ÁÉÍÓÚÝáéíóúýĆćĹŃńŔŕŚśŹź", "AEIOUYaeiouyCcLNnRrSsZz"},
	{accCircumflex, "ÂÊÎÔÛâêîôûĈĉĜĝĤĥĴĵŜŝŴŵŶŷ", "AEIOUaeiouCcGgHhJjSsWwYy"},
	{accTilde, "ÃÑÕãñõĨĩŨũ", "ANOanoIiUu"},
	{accMacron, "ĀāĒēĪīŌōŪū", "AaEeIiOoUu"},
	{accBreve, "ĂăĔĕĞğĬĭŎŏŬŭ", "AaEeGgIiOoUu"},
	{accDot, "ĊċĖėĠġİŻż", "CcEeGgIZz"},
	{accDiaeresis, "ÄËÏÖÜäëïöüÿŸ", "AEIOUaeiouyY"},
	{accRing, "ÅåŮů", "AaUu"},
	{accCedilla, "ÇçŞşŢţ", "CcSsTt"},
	{accDoubleAcute, "ŐőŰű", "OoUu"},
	{accOgonek, "ĄąĘęĮįŲų", "AaEeIiUu"},
	{accCaron, "ČčĎďĚěŇňŘřŠšŽžĽľ", "CcDdEeNnRrSsZzLl"},
}

type composition struct {
	acc  byte
	base byte
}

// decompose maps a precomposed letter to its mark and base letter.
var decompose = map[rune]composition{}

// compose is the inverse of decompose.
var compose = map[composition]rune{}

// combining maps Unicode combining marks to G2 diacritical marks, to compose
// decomposed (NFD) input.
var combining = map[rune]byte{
	0x0300: accGrave, 0x0301: accAcute, 0x0302: accCircumflex, 0x0303: accTilde,
	0x0304: accMacron, 0x0306: accBreve, 0x0307: accDot, 0x0308: accDiaeresis,
	0x030A: accRing, 0x0327: accCedilla, 0x030B: accDoubleAcute, 0x0328: accOgonek,
	0x030C: accCaron,
}

func init() {
	for i, r := range latinG2 {
		c := byte(0x20 + i)
		if r == ' ' || r == 0xA0 || c == 0x49 {
			continue
		}
		g2Code[r] = c
	}
	for _, s := range composedSets {
		comp, base := []rune(s.composed), []byte(s.base)
		if len(comp) != len(base) {
			panic("teletext: composedSets length mismatch")
		}
		for i, r := range comp {
			k := composition{byte(s.acc), base[i]}
			decompose[r] = k
			compose[k] = r
		}
	}
}

// replacements are the documented stand-ins for characters that no Level
// 1.5 decoder can show. Keys not listed here and not representable become
// '?'; control and format characters are dropped.
var replacements = map[rune]string{
	'|':    "¦", // no G0 subset or G2 code holds the vertical line
	0x00A0: " ", // no-break space
	0x00AC: "-", // ¬
	0x00AF: "-", // ¯
	0x00B4: "'", // ´
	0x00B8: ",", // ¸
	0x0110: "Ð", // Đ: the G2 glyph decodes as Ð

	// Valid X/26 compositions that libzvbi 0.2.41 does not compose:
	// Ģ ģ Ķ ķ Ļ ļ Ņ ņ Ŗ ŗ Ť ť ĺ.
	0x0122: "G", 0x0123: "g", 0x0136: "K", 0x0137: "k", 0x013B: "L", 0x013C: "l",
	0x0145: "N", 0x0146: "n", 0x0156: "R", 0x0157: "r", 0x0164: "T", 0x0165: "t",
	0x013A: "l",

	// Punctuation outside Latin-1 and G2.
	0x2010: "-", 0x2011: "-", 0x2012: "-", 0x2013: "-", 0x2212: "-",
	0x2015: "—",
	0x201A: "'", 0x201B: "'", 0x2032: "'",
	0x201E: "\"", 0x201F: "\"", 0x2033: "\"",
	0x2039: "<", 0x203A: ">",
	0x2022: "·",
	0x2026: "...",
	0x20AC: "EUR",
}

// level1Fallback is what goes into the row itself for a character sent with
// an X/26 G2 triplet or a mode 0x10 triplet, so that a Level 1 decoder shows
// something close. Every value is ASCII outside the national positions.
// Characters not listed fall back to a space.
var level1Fallback = map[rune]byte{
	'ß': 's', 'Æ': 'A', 'æ': 'a', 'Ø': 'O', 'ø': 'o', 'Ð': 'D', 'ð': 'd', 'đ': 'd',
	'Þ': 'P', 'þ': 'p', 'Œ': 'O', 'œ': 'o', 'Ł': 'L', 'ł': 'l', 'Ħ': 'H', 'ħ': 'h',
	'ı': 'i', 'Ĳ': 'J', 'ĳ': 'j', 'Ŀ': 'L', 'ŀ': 'l', 'Ŧ': 'T', 'ŧ': 't', 'Ŋ': 'N',
	'ŋ': 'n', 'ĸ': 'k', 'ŉ': 'n', 'ª': 'a', 'º': 'o', 'µ': 'u', 'Ω': 'O', 'ɑ': 'a',
	'‘': '\'', '’': '\'', '“': '"', '”': '"', '«': '"', '»': '"', '¡': '!', '¿': '?',
	'×': 'x', '÷': ':', '·': '.', '°': 'o', '—': '-', '±': '+', '¹': '1', '²': '2',
	'³': '3', '£': 'L', '$': 'S', '¥': 'Y', '¢': 'c', '#': '=', '§': 'S', '¤': 'o',
	'¦': '!', '¨': '"', '@': 'a', '[': '(', ']': ')', '{': '(', '}': ')', '\\': '/',
	'^': '\'', '_': '-', '`': '\'', '~': '-', '♪': '*', '®': 'R', '©': 'C', '™': 'T',
	'←': '<', '→': '>', '↑': '!', '↓': '!', '¼': '4', '½': '2', '¾': '4', '‖': '!',
}

// cell is one character cell of a row: the G0 code for the row packet and,
// when the character needs Level 1.5, the X/26 triplet mode and data.
type cell struct {
	code byte // G0 code 0x20..0x7E
	mode byte // 0 = none, 0x0F = G2 character, 0x10..0x1F = G0 with mark d = mode-0x10
	data byte
}

// charset encodes runes for one national option subset.
type charset struct {
	subset Subset
	direct map[rune]byte // runes a Level 1 decoder shows in this subset
}

func newCharset(s Subset) *charset {
	cs := &charset{subset: s, direct: make(map[rune]byte, 96)}
	for c := byte(0x20); c < 0x7F; c++ {
		cs.direct[g0Rune(s, c)] = c
	}
	return cs
}

// cell returns the representation of r in this subset, if it has one.
func (cs *charset) cell(r rune) (cell, bool) {
	if c, ok := cs.direct[r]; ok {
		return cell{code: c}, true
	}
	if k, ok := decompose[r]; ok {
		return cell{code: k.base, mode: 0x10 | k.acc, data: k.base}, true
	}
	fb, ok := level1Fallback[r]
	if !ok {
		fb = ' '
	}
	if c, ok := g2Code[r]; ok {
		return cell{code: fb, mode: 0x0F, data: c}, true
	}
	// ASCII at a national position of this subset, and ¤ ¦: the plain G0
	// set through a mode 0x10 triplet.
	for c := byte(0x21); c < 0x7F; c++ {
		if isNational(c) && g0Plain(c) == r {
			return cell{code: fb, mode: 0x10, data: c}, true
		}
	}
	return cell{}, false
}

// replaceRunes applies the replacement rules to s: it composes decomposed
// marks, maps whitespace to spaces, drops control and format characters, and
// substitutes characters without a representation.
func replaceRunes(s string, cs *charset) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if acc, ok := combining[r]; ok {
			if n := len(out); n > 0 && out[n-1] < 0x80 {
				if p, ok := compose[composition{acc, byte(out[n-1])}]; ok {
					out[n-1] = p
				}
			}
			continue // a mark that does not compose is dropped
		}
		switch {
		case r == ' ':
			out = append(out, r)
			continue
		case r == '\t' || r == '\n' || r == '\r' || (unicode.IsSpace(r) && r != 0xA0):
			out = append(out, ' ')
			continue
		case unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Mn, r) ||
			unicode.Is(unicode.Me, r) || unicode.Is(unicode.Variation_Selector, r):
			continue
		}
		if _, ok := cs.cell(r); ok {
			out = append(out, r)
			continue
		}
		if rep, ok := replacements[r]; ok {
			out = append(out, []rune(rep)...)
			continue
		}
		out = append(out, '?')
	}
	return out
}

// Replace returns the text a Level 1.5 decoder shows for s on a channel of
// the given language: s after the documented replacements (see the package
// documentation). Layout is not applied.
func Replace(s, language string) string {
	return string(replaceRunes(s, charsetFor(LanguageSubset(language))))
}

var charsets [8]*charset

func init() {
	for s := range charsets {
		charsets[s] = newCharset(Subset(s))
	}
}

func charsetFor(s Subset) *charset { return charsets[s&7] }

// languages maps ISO 639-1 and ISO 639-2 (T and B) codes to the subset and
// the ISO 639-2 code written in the teletext_descriptor.
var languages = map[string]struct {
	subset Subset
	iso    string
}{}

func init() {
	add := func(s Subset, iso string, codes ...string) {
		for _, c := range append(codes, iso) {
			languages[c] = struct {
				subset Subset
				iso    string
			}{s, iso}
		}
	}
	add(SubsetEnglish, "eng", "en")
	add(SubsetGerman, "deu", "de", "ger")
	add(SubsetFrench, "fra", "fr", "fre")
	add(SubsetSwedish, "swe", "sv")
	add(SubsetSwedish, "fin", "fi")
	add(SubsetSwedish, "hun", "hu")
	add(SubsetItalian, "ita", "it")
	add(SubsetSpanish, "spa", "es")
	add(SubsetSpanish, "por", "pt")
	add(SubsetSpanish, "cat", "ca")
	add(SubsetSpanish, "glg", "gl")
	// Czech and Slovak keep the English subset: decoders set to the West
	// European/Turkish region (libzvbi's default, so ffmpeg, VLC and
	// GStreamer) read option 3 as Turkish. Their letters go through X/26.
	add(SubsetEnglish, "ces", "cs", "cze")
	add(SubsetEnglish, "slk", "sk", "slo")
}

// LanguageSubset returns the national option subset used for a language
// code (ISO 639-1 or 639-2, any case). Languages without a subset of their
// own in the default G0 designation use English; their other characters go
// through X/26 like any character outside the subset.
func LanguageSubset(language string) Subset {
	if l, ok := languages[strings.ToLower(strings.TrimSpace(language))]; ok {
		return l.subset
	}
	return SubsetEnglish
}

// ISO6392 returns the three-letter code for the teletext_descriptor: the
// ISO 639-2/T code for a known two-letter code, otherwise the code itself in
// lower case when it has three letters, else "und".
func ISO6392(language string) string {
	l := strings.ToLower(strings.TrimSpace(language))
	if v, ok := languages[l]; ok && len(l) == 2 {
		return v.iso
	}
	if len(l) == 3 && strings.Trim(l, "abcdefghijklmnopqrstuvwxyz") == "" {
		return l
	}
	return "und"
}
