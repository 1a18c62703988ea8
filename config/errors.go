package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error that Parse, Load and
// Validate return for a bad configuration. A file that cannot be read is
// not ErrInvalid.
var ErrInvalid = errors.New("invalid config")

// ValidationError is one problem in a config, located by key path.
type ValidationError struct {
	// Source is the file name, "" when unknown.
	Source string
	// Line is the 1-based line of the key in the file, 0 when unknown.
	Line int
	// Path names the key: "channels[2].input.url", "models.big.path".
	// It is "" for problems with the document as a whole.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as "source:line: path: msg".
func (e *ValidationError) Error() string {
	var b strings.Builder
	switch {
	case e.Source != "" && e.Line > 0:
		b.WriteString(e.Source + ":" + strconv.Itoa(e.Line) + ": ")
	case e.Source != "":
		b.WriteString(e.Source + ": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Errors is every problem found in one config, ordered by line.
type Errors []*ValidationError

// Error returns one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual errors, so errors.Is(err, ErrInvalid) and
// errors.As(err, &*ValidationError) work.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Is reports a match with ErrInvalid even for an empty list.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// errList collects errors while decoding and validating.
type errList struct {
	source    string
	lines     map[string]int
	errs      Errors
	truncated bool
	skip      func(path string) bool // drops errors at these paths
	fromEnv   map[string]string      // key path -> environment variable that set it
}

// maxErrors bounds the errors reported for one config.
const maxErrors = 100

// at records an error whose line is known.
func (l *errList) at(line int, path, format string, args ...any) {
	if l.skip != nil && l.skip(path) {
		return
	}
	if len(l.errs) >= maxErrors {
		l.truncated = true
		return
	}
	l.errs = append(l.errs, &ValidationError{Source: l.source, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// add records an error at path, with the line of path or of its nearest
// ancestor that appears in the file.
func (l *errList) add(path, format string, args ...any) {
	if name, ok := l.fromEnv[path]; ok {
		format += " (set by " + name + ")"
	}
	l.at(l.line(path), path, format, args...)
}

func (l *errList) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if n, ok := l.lines[p]; ok {
			return n
		}
	}
	return 0
}

// explicit reports whether path itself was written in the file (always true
// when no line table exists, as for a Config built in Go).
func (l *errList) explicit(path string) bool {
	if l.lines == nil {
		return true
	}
	_, ok := l.lines[path]
	return ok
}

// result returns nil or the sorted errors.
func (l *errList) result() error {
	if len(l.errs) == 0 {
		return nil
	}
	es := append(Errors(nil), l.errs...)
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Line, es[j].Line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	if l.truncated {
		es = append(es, &ValidationError{Source: l.source, Msg: fmt.Sprintf("too many errors; only the first %d are shown", maxErrors)})
	}
	return es
}

// Path helpers. Paths join keys with "." and index lists with "[i]"; map
// keys that are not plain words are written as ["key"].

var plainKey = func(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func joinKey(parent, key string) string {
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func joinIndex(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// parentPath strips the last element of a path.
func parentPath(p string) string {
	if strings.HasSuffix(p, "\"]") {
		// A quoted key: find its opening ["; the quoted text escapes quotes.
		for i := len(p) - 3; i > 0; i-- {
			if p[i] == '"' && p[i-1] == '[' && (i < 2 || p[i-2] != '\\') {
				if _, err := strconv.Unquote(p[i : len(p)-1]); err == nil {
					return p[:i-1]
				}
			}
		}
		return ""
	}
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
		return ""
	}
	if i := strings.LastIndexAny(p, ".]"); i >= 0 {
		if p[i] == ']' {
			return p[:i+1]
		}
		return p[:i]
	}
	return ""
}
