package main

import "strings"

// version is a parsed semantic version (https://semver.org) in the forms
// the Go vulnerability database uses: bare ("1.2.3"), "v"-prefixed or
// "go"-prefixed. Build metadata is parsed but ignored for ordering.
type version struct {
	major, minor, patch string // decimal digits, no leading zeros
	pre                 []string
}

// parseVersion parses s. Like golang.org/x/mod/semver it accepts the
// shorthands "1" and "1.2" (meaning 1.0.0 and 1.2.0) when there is no
// prerelease or build suffix.
func parseVersion(s string) (version, bool) {
	s = strings.TrimPrefix(s, "v")
	s = strings.TrimPrefix(s, "go")
	var v version
	var ok bool
	if v.major, s, ok = number(s); !ok {
		return version{}, false
	}
	if s == "" {
		v.minor, v.patch = "0", "0"
		return v, true
	}
	if s[0] != '.' {
		return version{}, false
	}
	if v.minor, s, ok = number(s[1:]); !ok {
		return version{}, false
	}
	if s == "" {
		v.patch = "0"
		return v, true
	}
	if s[0] != '.' {
		return version{}, false
	}
	if v.patch, s, ok = number(s[1:]); !ok {
		return version{}, false
	}
	if strings.HasPrefix(s, "-") {
		end := strings.IndexByte(s, '+')
		if end < 0 {
			end = len(s)
		}
		v.pre = strings.Split(s[1:end], ".")
		for _, id := range v.pre {
			if !validIdent(id) || (isNumeric(id) && len(id) > 1 && id[0] == '0') {
				return version{}, false
			}
		}
		s = s[end:]
	}
	if strings.HasPrefix(s, "+") {
		for _, id := range strings.Split(s[1:], ".") {
			if !validIdent(id) {
				return version{}, false
			}
		}
		s = ""
	}
	if s != "" {
		return version{}, false
	}
	return v, true
}

// number splits a leading decimal number without leading zeros off s.
func number(s string) (num, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return "", s, false
	}
	return s[:i], s[i:], true
}

func validIdent(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func isNumeric(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return id != ""
}

// compareNumbers orders two decimal strings without leading zeros.
func compareNumbers(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compareVersions returns -1, 0 or +1 as a orders before, equal to or after
// b. An unparsable version orders before every valid one, and all
// unparsable versions are equal, as in golang.org/x/mod/semver.Compare.
func compareVersions(a, b string) int {
	va, okA := parseVersion(a)
	vb, okB := parseVersion(b)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return -1
	case !okB:
		return 1
	}
	if c := compareNumbers(va.major, vb.major); c != 0 {
		return c
	}
	if c := compareNumbers(va.minor, vb.minor); c != 0 {
		return c
	}
	if c := compareNumbers(va.patch, vb.patch); c != 0 {
		return c
	}
	return comparePrerelease(va.pre, vb.pre)
}

// comparePrerelease applies semver precedence rule 11: no prerelease orders
// after any prerelease; identifiers compare numerically when both are
// numeric, numeric before alphanumeric, otherwise in ASCII order; a shorter
// list that is a prefix of a longer one orders first.
func comparePrerelease(a, b []string) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		nx, ny := isNumeric(x), isNumeric(y)
		switch {
		case nx && ny:
			return compareNumbers(x, y)
		case nx:
			return -1
		case ny:
			return 1
		default:
			return strings.Compare(x, y)
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
