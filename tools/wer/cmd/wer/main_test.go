package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRunGolden(t *testing.T) {
	td := filepath.Join("..", "..", "testdata")
	var out bytes.Buffer
	args := []string{
		filepath.Join(td, "ref1.txt"), filepath.Join(td, "hyp1.jsonl"),
		filepath.Join(td, "ref2.txt"), filepath.Join(td, "hyp2.jsonl"),
	}
	if err := run(&out, "json", args); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(td, "report.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("report differs from %s:\n%s\nwant:\n%s", golden, out.String(), want)
	}
}

func TestRunErrors(t *testing.T) {
	var out bytes.Buffer
	tests := []struct {
		name   string
		format string
		args   []string
	}{
		{"no args", "text", nil},
		{"odd args", "text", []string{"../../testdata/ref1.txt"}},
		{"bad format", "xml", []string{"../../testdata/ref1.txt", "../../testdata/hyp1.jsonl"}},
		{"missing ref", "text", []string{"../../testdata/nope.txt", "../../testdata/hyp1.jsonl"}},
		{"missing hyp", "text", []string{"../../testdata/ref1.txt", "../../testdata/nope.jsonl"}},
		{"bad json", "json", []string{"../../testdata/ref1.txt", "../../testdata/ref1.txt"}},
	}
	for _, tc := range tests {
		if err := run(&out, tc.format, tc.args); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
