package catalog

import (
	"errors"
	"strings"
	"testing"
)

func TestCatalogueEntries(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Entries() {
		t.Run(e.Name, func(t *testing.T) {
			if !ValidName(e.Name) || seen[e.Name] || seen[e.Package] {
				t.Errorf("bad or duplicate name %q / %q", e.Name, e.Package)
			}
			seen[e.Name], seen[e.Package] = true, true
			if e.URL != UpstreamBase+e.Package+".tar.bz2" {
				t.Errorf("URL %q does not follow the release pattern", e.URL)
			}
			if e.SHA256 != "" {
				if h, err := ParseSHA256(e.SHA256); err != nil || h != e.SHA256 {
					t.Errorf("sha256 %q not in canonical form: %v", e.SHA256, err)
				}
			}
			if e.Size <= 0 || e.Family == "" || e.Licence == "" || e.Description == "" {
				t.Errorf("incomplete entry %+v", e)
			}
			if NameFromURL(e.URL) != e.Package {
				t.Errorf("NameFromURL(%q) = %q, want %q", e.URL, NameFromURL(e.URL), e.Package)
			}
		})
	}
	// The recommended English models of MODEL-CONTRACT.md §6.
	for _, name := range []string{"zipformer-en-2023-06-26", "zipformer-en-2023-06-21", "nemotron-en-560ms-int8"} {
		if !seen[name] {
			t.Errorf("catalogue lacks %s", name)
		}
	}
	// Entries returns a copy.
	Entries()[0].SHA256 = "changed"
	if Entries()[0].SHA256 == "changed" {
		t.Error("Entries exposes the catalogue itself")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"zipformer-en-2023-06-26", "zipformer-en-2023-06-26", nil},
		{"sherpa-onnx-streaming-zipformer-en-2023-06-21", "zipformer-en-2023-06-21", nil},
		{"sherpa-onnx-nemotron-speech-streaming-en-0.6b-560ms-int8-2026-04-25.tar.bz2", "nemotron-en-560ms-int8", nil},
		{"whisper-large", "", ErrUnknownModel},
		{"", "", ErrUnknownModel},
	}
	for _, tt := range tests {
		e, err := Lookup(tt.in)
		if !errors.Is(err, tt.err) || e.Name != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.in, e.Name, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), "zipformer-en-2023-06-26") {
			t.Errorf("error %q does not list the known names", err)
		}
	}
}

func TestParseSHA256(t *testing.T) {
	h := strings.Repeat("ab", 32)
	tests := []struct {
		in, want string
		ok       bool
	}{
		{h, h, true},
		{strings.ToUpper(h), h, true},
		{"sha256:" + h, h, true},
		{" " + h + "\n", h, true},
		{h[:63], "", false},
		{h + "0", "", false},
		{strings.Repeat("g", 64), "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := ParseSHA256(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSHA256(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestNames(t *testing.T) {
	urls := []struct{ in, want string }{
		{"https://h/a/b/pkg-1.tar.bz2", "pkg-1"},
		{"https://h/pkg.tar.gz?x=1#f", "pkg"},
		{"https://h/pkg.tgz", "pkg"},
		{"https://h/pkg.tar", "pkg"},
		{"https://h/dl/", "dl"},
		{"https://h/blob", "blob"},
	}
	for _, tt := range urls {
		if got := NameFromURL(tt.in); got != tt.want {
			t.Errorf("NameFromURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	names := []struct {
		in string
		ok bool
	}{
		{"zipformer-en-2023-06-26", true},
		{"a.b_c+d", true},
		{"", false},
		{".hidden", false},
		{"-flag", false},
		{"a/b", false},
		{"..", false},
		{"a b", false},
		{strings.Repeat("a", 201), false},
	}
	for _, tt := range names {
		if got := ValidName(tt.in); got != tt.ok {
			t.Errorf("ValidName(%q) = %v", tt.in, got)
		}
	}
}
