// Package wer scores recognised text against reference text: word error rate
// and character error rate after normalising case and punctuation. The
// command tools/wer/cmd/wer and the end-to-end tests use it.
package wer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// ErrBadJSON is returned when a JSON-lines hypothesis has a malformed line.
var ErrBadJSON = errors.New("wer: malformed JSON line")

// Normalize lower-cases s, turns typographic apostrophes into ASCII ones, replaces
// every character other than letters, digits and in-word apostrophes with a space,
// and collapses spaces. "Hello, World!" and "hello world" normalise alike.
func Normalize(s string) string {
	rs := []rune(strings.ToLower(s))
	var b strings.Builder
	for i, r := range rs {
		if r == '\u2019' || r == '\u2018' {
			r = '\''
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '\'' && i > 0 && i+1 < len(rs) && isWordRune(rs[i-1]) && isWordRune(rs[i+1]):
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// Counts is an error count: Edits (substitutions + deletions + insertions) against
// Ref reference units.
type Counts struct {
	Edits int
	Ref   int
}

// Add returns the sum of two counts.
func (c Counts) Add(o Counts) Counts { return Counts{c.Edits + o.Edits, c.Ref + o.Ref} }

// Rate is Edits/Ref in percent; an empty reference gives 0 when there are no edits
// and 100 otherwise.
func (c Counts) Rate() float64 {
	if c.Ref == 0 {
		if c.Edits == 0 {
			return 0
		}
		return 100
	}
	return 100 * float64(c.Edits) / float64(c.Ref)
}

// Distance is the Levenshtein distance between two sequences.
func Distance[T comparable](ref, hyp []T) int {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)]
}

// WordErrors normalises both texts and counts word edits.
func WordErrors(ref, hyp string) Counts {
	r := strings.Fields(Normalize(ref))
	return Counts{Distance(r, strings.Fields(Normalize(hyp))), len(r)}
}

// CharErrors normalises both texts and counts character edits (spaces included).
func CharErrors(ref, hyp string) Counts {
	r := []rune(Normalize(ref))
	return Counts{Distance(r, []rune(Normalize(hyp))), len(r)}
}

// cue is the part of a JSON-lines cue that scoring reads.
type cue struct {
	Lines []string `json:"lines"`
	Text  *string  `json:"text"`
	Words []struct {
		Text string `json:"text"`
		Word string `json:"word"`
	} `json:"words"`
}

// ParseJSONLines reads JSON lines (one object per line, blank lines ignored) and
// joins their texts with spaces: the "lines" member (subtitled's cue format) when
// present, else the "text" member, else the "text" (or "word") of each element of
// "words".
func ParseJSONLines(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var parts []string
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c cue
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return "", fmt.Errorf("%w: line %d: %v", ErrBadJSON, n, err)
		}
		if c.Lines != nil {
			parts = append(parts, c.Lines...)
			continue
		}
		if c.Text != nil {
			parts = append(parts, *c.Text)
			continue
		}
		for _, w := range c.Words {
			if w.Text != "" {
				parts = append(parts, w.Text)
			} else {
				parts = append(parts, w.Word)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("wer: read hypothesis: %w", err)
	}
	return strings.Join(parts, " "), nil
}
