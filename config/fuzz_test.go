package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse: it must never panic, every
// failure must be ErrInvalid with located messages, and every success must
// validate again and diff as unchanged against a second parse.
func FuzzParse(f *testing.F) {
	f.Setenv("SUBTITLED_RELOAD_TOKEN", "r")
	f.Setenv("SUBTITLED_WS_TOKEN", "w")
	f.Setenv("SUBTITLED_WHIP_TOKEN", "p")
	f.Setenv(EnvListen, "")
	f.Setenv(EnvLogLevel, "")
	f.Setenv(EnvLogFormat, "")
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	} else {
		f.Fatal(err)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("x-a: &a {max_lines: 1}\ndefaults: {captions: {<<: *a}}\n" + minimal))
	f.Add([]byte("channels: [{id: a, language: en, input: {url: 'udp://1.2.3.4@239.0.0.1:5?iface=e'}, outputs: [{ts: {url: http, teletext: {page: 8A0}}}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is not ErrInvalid: %v", err)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not a non-empty Errors: %v", err)
			}
			for _, e := range es {
				if e.Msg == "" {
					t.Fatalf("empty message in %v", err)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
		again, err := Parse(data, "fuzz.yaml")
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		if ch := Diff(c, again); !ch.Empty() {
			t.Fatalf("two parses differ: %s", ch)
		}
	})
}
