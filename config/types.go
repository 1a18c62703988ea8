package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// ByteSize is a size in bytes. In YAML it is an integer or a number with a
// unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type ByteSize int64

// Byte size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

var byteUnits = map[string]ByteSize{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": KiB,
	"mib": MiB,
	"gib": GiB,
}

// ParseByteSize parses "65536", "64KiB", "10 MB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult, ok := byteUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q (want bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > int64(1<<62)/int64(mult) {
		return 0, fmt.Errorf("size %q is out of range", s)
	}
	return ByteSize(n) * mult, nil
}

// String formats the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%GiB == 0:
		return strconv.FormatInt(int64(b/GiB), 10) + "GiB"
	case b != 0 && b%MiB == 0:
		return strconv.FormatInt(int64(b/MiB), 10) + "MiB"
	case b != 0 && b%KiB == 0:
		return strconv.FormatInt(int64(b/KiB), 10) + "KiB"
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalYAML writes the size as String does.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// UnmarshalYAML accepts what ParseByteSize accepts.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size, got %s", describe(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// TeletextPage is a teletext page number in the usual notation: 888 means
// magazine 8, page 0x88. Subtitle pages are 100 to 899 with decimal digits
// after the magazine digit. In YAML it is an integer or a string ("888").
type TeletextPage int

// ParseTeletextPage parses "888".
func ParseTeletextPage(s string) (TeletextPage, error) {
	bad := fmt.Errorf("invalid teletext page %q (want 100..899: magazine 1-8 then two decimal digits)", s)
	if len(s) != 3 || s[0] < '1' || s[0] > '8' {
		return 0, bad
	}
	for i := 1; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	n, _ := strconv.Atoi(s)
	return TeletextPage(n), nil
}

// Valid reports whether p is a subtitle page 100..899.
func (p TeletextPage) Valid() bool { return p >= 100 && p <= 899 }

// Magazine returns the magazine 1..8 (8 is coded as 0 on the wire).
func (p TeletextPage) Magazine() int { return int(p) / 100 }

// Number returns the page number within the magazine as a BCD byte (0x88
// for page 888).
func (p TeletextPage) Number() byte {
	n := int(p) % 100
	return byte(n/10<<4 | n%10)
}

// String returns the page in the usual notation.
func (p TeletextPage) String() string { return strconv.Itoa(int(p)) }

// MarshalYAML writes the page as an integer.
func (p TeletextPage) MarshalYAML() (any, error) { return int(p), nil }

// UnmarshalYAML accepts what ParseTeletextPage accepts.
func (p *TeletextPage) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a teletext page, got %s", describe(n))
	}
	v, err := ParseTeletextPage(n.Value)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// describe names a node's kind for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "an empty value"
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}
