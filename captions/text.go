package captions

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// runeLen is the display length of s: one per rune.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

// isPunctRune reports whether r is punctuation or a symbol that may wrap a
// word ("(", "“", "!", "…").
func isPunctRune(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }

// splitPunct splits a word into leading punctuation, the core and trailing
// punctuation: `"(well,"` → `"(`, `well`, `,"`. A word made only of
// punctuation is all lead.
func splitPunct(s string) (lead, core, trail string) {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isPunctRune(r) {
			break
		}
		i += n
	}
	j := len(s)
	for j > i {
		r, n := utf8.DecodeLastRuneInString(s[i:j])
		if !isPunctRune(r) {
			break
		}
		j -= n
	}
	return s[:i], s[i:j], s[j:]
}

// key is the lower-case core of a word, used for list look-ups.
func key(s string) string {
	_, c, _ := splitPunct(s)
	return strings.ToLower(c)
}

// closers are stripped before looking at a word's final punctuation.
const closers = "\"')]}»”’›"

func stripClosers(s string) string { return strings.TrimRight(s, closers) }

// endsSentence reports whether the word ends a sentence: its trailing
// punctuation (inside any closing quotes or brackets) contains . ! ? or …,
// and it is not a known abbreviation or a single initial ("J.").
func endsSentence(s string, lw *langWords) bool {
	t := stripClosers(s)
	r, _ := utf8.DecodeLastRuneInString(t)
	switch r {
	case '!', '?', '…', '‽', '。', '！', '？':
		return true
	case '.':
		if strings.HasSuffix(t, "..") {
			return true
		}
		_, core, _ := splitPunct(t)
		if lw != nil && lw.abbreviations[strings.ToLower(core)] {
			return false
		}
		if runeLen(core) == 1 && !(core == "I" && lw != nil && lw.capitalI) {
			c, _ := utf8.DecodeRuneInString(core)
			if unicode.IsUpper(c) {
				return false
			}
		}
		return true
	}
	return false
}

// endsClause reports whether the word ends with clause punctuation
// (, ; : – —).
func endsClause(s string) bool {
	t := stripClosers(s)
	r, _ := utf8.DecodeLastRuneInString(t)
	switch r {
	case ',', ';', ':', '–', '—', '،', '、':
		return true
	}
	return false
}

// hasTrailingPunct reports whether the word ends with any punctuation.
func hasTrailingPunct(s string) bool {
	_, _, t := splitPunct(s)
	return t != ""
}

// isTitle reports whether the core of the word starts with an upper-case
// letter and has at least one lower-case letter ("Smith", not "I" or "NASA").
func isTitle(s string) bool {
	_, c, _ := splitPunct(s)
	r, n := utf8.DecodeRuneInString(c)
	if !unicode.IsUpper(r) {
		return false
	}
	for _, q := range c[n:] {
		if unicode.IsLower(q) {
			return true
		}
	}
	return false
}

// startsUpper reports whether the first letter of the word is upper case.
func startsUpper(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return unicode.IsUpper(r)
		}
	}
	return false
}

// capitalise upper-cases the first letter of the word, leaving leading
// punctuation alone.
func capitalise(s string) string {
	for i, r := range s {
		if unicode.IsLetter(r) {
			u := unicode.ToTitle(r)
			if u == r {
				return s
			}
			return s[:i] + string(u) + s[i+utf8.RuneLen(r):]
		}
	}
	return s
}

// cleanText makes a word or line safe for a caption line: control
// characters (including line breaks) become spaces, runs of spaces collapse,
// and the ends are trimmed.
func cleanText(s string) string {
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) || (unicode.IsSpace(r) && r != ' ') {
			clean = false
			break
		}
	}
	if clean && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
