package config

import (
	"reflect"
	"strings"
	"testing"
)

const diffBase = `
listen: 127.0.0.1:8080
models:
  big: {path: /m/big}
  unused: {path: /m/unused}
defaults:
  language: en
channels:
  - id: a
    input: {url: a.ts}
    outputs: [{websocket: {}}]
  - id: b
    input: {url: b.ts}
    outputs: [{websocket: {}}]
  - id: d
    input: {url: d.ts}
    outputs: [{websocket: {}}]
  - id: e
    model: big
    input: {url: e.ts}
    outputs: [{websocket: {}}]
  - id: w
    input: {url: whip}
    whip: {token_env: SUBTITLED_TEST_DIFF}
    outputs: [{websocket: {}}]
`

func TestDiff(t *testing.T) {
	t.Setenv("SUBTITLED_TEST_DIFF", "one")
	old := mustParse(t, diffBase)

	if ch := Diff(old, mustParse(t, diffBase)); !ch.Empty() || ch.String() != "no changes" {
		t.Errorf("same config: %+v", ch)
	}

	// Reordering channels and models, and restating defaults, changes nothing.
	reordered := strings.Replace(diffBase, `  - id: a
    input: {url: a.ts}
    outputs: [{websocket: {}}]
`, "", 1) + `  - id: a
    input: {url: a.ts}
    captions: {max_lines: 2}
    outputs: [{websocket: {ring_size: 512}}]
`
	if ch := Diff(old, mustParse(t, reordered)); !ch.Empty() {
		t.Errorf("reordered: %+v", ch)
	}

	edited := strings.NewReplacer(
		"listen: 127.0.0.1:8080", "listen: 127.0.0.1:9090\nlog: {level: debug}",
		"big: {path: /m/big}", "big: {path: /m/big, max_batch: 8}",
		"unused: {path: /m/unused}", "",
		"    input: {url: b.ts}\n", "    input: {url: b.ts}\n    captions: {mode: roll-up}\n",
		"  - id: d\n    input: {url: d.ts}\n", "  - id: c\n    input: {url: c.ts}\n",
	).Replace(diffBase)
	t.Setenv("SUBTITLED_TEST_DIFF", "two")
	got := Diff(old, mustParse(t, edited))
	want := Changes{
		Added:   []string{"c"},
		Removed: []string{"d"},
		Changed: []string{"b", "e", "w"},
		Models:  []string{"big", "unused"},
		Global:  []string{"listen", "log"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n got %+v\nwant %+v", got, want)
	}
	if s := got.String(); s != "added channels c; removed channels d; changed channels b,e,w; changed models big,unused; changed settings listen,log" {
		t.Errorf("String: %s", s)
	}

	// A change in defaults reaches exactly the channels that inherit it.
	t.Setenv("SUBTITLED_TEST_DIFF", "one")
	inherited := strings.Replace(diffBase, "defaults:\n  language: en\n", "defaults:\n  language: en\n  captions: {max_lines: 1}\n", 1)
	inherited = strings.Replace(inherited, "  - id: a\n    input: {url: a.ts}\n", "  - id: a\n    input: {url: a.ts}\n    captions: {max_lines: 2}\n", 1)
	got = Diff(old, mustParse(t, inherited))
	if !reflect.DeepEqual(got.Changed, []string{"b", "d", "e", "w"}) || len(got.Global)+len(got.Models)+len(got.Added)+len(got.Removed) != 0 {
		t.Errorf("defaults change: %+v", got)
	}

	// The demo model's settings count as a model change for its channels.
	demo := strings.Replace(diffBase, "models:\n", "models:\n  demo-en: {threads: 2}\n", 1)
	got = Diff(old, mustParse(t, demo))
	if !reflect.DeepEqual(got.Models, []string{DemoModel}) || !reflect.DeepEqual(got.Changed, []string{"a", "b", "d", "w"}) {
		t.Errorf("demo model change: %+v", got)
	}

	// From nothing, everything is added.
	got = Diff(nil, old)
	if !reflect.DeepEqual(got.Added, []string{"a", "b", "d", "e", "w"}) || len(got.Removed) != 0 {
		t.Errorf("from nil: %+v", got)
	}
}
