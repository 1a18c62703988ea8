package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var snapshot = time.Date(2099, 6, 7, 8, 9, 10, 0, time.UTC)

func TestBuildGolden(t *testing.T) {
	db, err := build("testdata/osv", snapshot)
	if err != nil {
		t.Fatal(err)
	}
	files, err := db.files()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ID/GO-2099-0001.json", "ID/GO-2099-0002.json", "ID/GO-2099-0003.json",
		"index/db.json", "index/modules.json", "index/vulns.json",
	}
	if len(files) != len(want) {
		t.Errorf("got %d files, want %d", len(files), len(want))
	}
	for _, name := range want {
		got, ok := files[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		golden := filepath.Join("testdata", "golden", filepath.FromSlash(name))
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		exp, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, exp) {
			t.Errorf("%s differs from %s:\n got %s\nwant %s", name, golden, got, exp)
		}
	}
}

// TestBuildIndexes checks the facts the golden files encode, so a wrong
// -update cannot slip through unnoticed.
func TestBuildIndexes(t *testing.T) {
	db, err := build("testdata/osv", snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if !db.meta.Modified.Equal(snapshot) {
		t.Errorf("db modified = %v, want the snapshot %v (newer than GO-2099-0002's own time)", db.meta.Modified, snapshot)
	}
	fixes := map[string]string{}
	for _, m := range db.modules {
		for _, v := range m.Vulns {
			fixes[m.Path+" "+v.ID] = v.Fixed
		}
	}
	wantFixes := map[string]string{
		"example.com/alpha GO-2099-0001": "1.4.2",
		"example.com/alpha GO-2099-0002": "", // re-introduced in 1.3.0
		"stdlib GO-2099-0002":            "1.26.3",
		"example.com/beta GO-2099-0003":  "",
	}
	if len(fixes) != len(wantFixes) {
		t.Errorf("module index has %v, want %v", fixes, wantFixes)
	}
	for k, want := range wantFixes {
		if got, ok := fixes[k]; !ok || got != want {
			t.Errorf("fixed for %s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	var e2 struct {
		Modified time.Time `json:"modified"`
	}
	if err := json.Unmarshal(db.entries["GO-2099-0002"], &e2); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2099, 3, 1, 0, 0, 0, 0, time.UTC); !e2.Modified.Equal(want) {
		t.Errorf("GO-2099-0002 modified = %v, want its own %v kept", e2.Modified, want)
	}
	var e1 map[string]any
	if err := json.Unmarshal(db.entries["GO-2099-0001"], &e1); err != nil {
		t.Fatal(err)
	}
	if e1["modified"] != "2099-06-07T08:09:10Z" {
		t.Errorf("GO-2099-0001 modified = %v, want the snapshot", e1["modified"])
	}
	for _, field := range []string{"schema_version", "published", "aliases", "summary", "details", "affected", "references", "database_specific"} {
		if _, ok := e1[field]; !ok {
			t.Errorf("GO-2099-0001 lost field %q", field)
		}
	}
	if !strings.Contains(string(db.entries["GO-2099-0001"]), `<script> & \"quotes\"`) {
		t.Errorf("entry text was HTML-escaped: %s", db.entries["GO-2099-0001"])
	}
}

func TestLatestFix(t *testing.T) {
	type ev = struct{ Introduced, Fixed string }
	semver := func(evs ...ev) osvRange {
		r := osvRange{Type: "SEMVER"}
		for _, e := range evs {
			r.Events = append(r.Events, struct {
				Introduced string `json:"introduced"`
				Fixed      string `json:"fixed"`
			}{e.Introduced, e.Fixed})
		}
		return r
	}
	tests := []struct {
		name   string
		ranges []osvRange
		want   string
	}{
		{"no ranges", nil, ""},
		{"never fixed", []osvRange{semver(ev{Introduced: "0"})}, ""},
		{"fixed", []osvRange{semver(ev{Introduced: "0"}, ev{Fixed: "1.0.4"})}, "1.0.4"},
		{"highest fix", []osvRange{semver(ev{Introduced: "0"}, ev{Fixed: "1.0.4"}, ev{Introduced: "1.1.0"}, ev{Fixed: "1.1.7"})}, "1.1.7"},
		{"unsorted events", []osvRange{semver(ev{Fixed: "1.1.7"}, ev{Introduced: "1.1.0"}, ev{Fixed: "1.0.4"}, ev{Introduced: "0"})}, "1.1.7"},
		{"re-introduced", []osvRange{semver(ev{Introduced: "0"}, ev{Fixed: "1.0.4"}, ev{Introduced: "1.1.2"})}, ""},
		{"prerelease fix", []osvRange{semver(ev{Introduced: "0"}, ev{Fixed: "1.0.0-rc.2"})}, "1.0.0-rc.2"},
		{"two ranges", []osvRange{
			semver(ev{Introduced: "0"}, ev{Fixed: "1.2.0"}),
			semver(ev{Introduced: "2.0.0"}, ev{Fixed: "2.3.1"}),
		}, "2.3.1"},
		{"non-SEMVER ignored", []osvRange{
			semver(ev{Introduced: "0"}, ev{Fixed: "1.2.0"}),
			{Type: "ECOSYSTEM", Events: semver(ev{Fixed: "9.9.9"}).Events},
		}, "1.2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := latestFix(tc.ranges); got != tc.want {
				t.Errorf("latestFix = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/osv/GO-2099-0001.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
		want  error
		msg   string
	}{
		{"empty dir", nil, ErrNoEntries, ""},
		{"only other files", map[string]string{"README.md": "x"}, ErrNoEntries, ""},
		{"name mismatch", map[string]string{"GO-2099-9999.json": string(good)}, ErrBadEntry, "does not match"},
		{"bad json", map[string]string{"GO-1.json": "{"}, ErrBadEntry, ""},
		{"no id", map[string]string{"GO-1.json": `{"affected": []}`}, ErrBadEntry, "no id"},
		{"unnamed package", map[string]string{"GO-1.json": `{"id": "GO-1", "affected": [{"package": {"ecosystem": "Go"}}]}`}, ErrBadEntry, "without a name"},
		{"other ecosystem", map[string]string{"GO-1.json": `{"id": "GO-1", "affected": [{"package": {"name": "left-pad", "ecosystem": "npm"}}]}`}, ErrBadEntry, "ecosystem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := build(dir, snapshot)
			if !errors.Is(err, tc.want) {
				t.Fatalf("build error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	db, err := build("testdata/osv", snapshot)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "db")
	for round := 0; round < 2; round++ { // the second round replaces the first
		if err := db.write(out); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	for _, name := range []string{"index/db.json", "index/modules.json", "index/vulns.json", "ID/GO-2099-0003.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	ents, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("staging directories left behind: %v", ents)
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "precious.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := db.write(other); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("write over an unrelated directory: err = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(other, "precious.txt")); err != nil {
		t.Errorf("unrelated file was touched: %v", err)
	}
}

func TestRunModDownload(t *testing.T) {
	dir := t.TempDir()
	info := filepath.Join(dir, "v.info")
	if err := os.WriteFile(info, []byte(`{"Version":"v0.0.0-20990607080910-abcdefabcdef","Time":"2099-06-07T08:09:10Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs("testdata/osv")
	if err != nil {
		t.Fatal(err)
	}
	// A module tree keeps its entries in data/osv.
	mod := filepath.Join(dir, "mod")
	if err := os.MkdirAll(filepath.Join(mod, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(src, filepath.Join(mod, "data", "osv")); err != nil {
		t.Fatal(err)
	}
	dl, err := json.Marshal(map[string]string{"Path": "golang.org/x/vulndb", "Version": "v0.0.0-20990607080910-abcdefabcdef", "Info": info, "Dir": mod})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout bytes.Buffer
	if err := run([]string{"-mod", "-", "-out", out}, bytes.NewReader(dl), &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "3 entries, 3 modules") {
		t.Errorf("summary = %q", stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "index", "db.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"modified":"2099-06-07T08:09:10Z"}`; string(b) != want {
		t.Errorf("db.json = %s, want %s", b, want)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		msg   string
	}{
		{"no source", []string{"-out", "x"}, "", "usage"},
		{"both sources", []string{"-mod", "-", "-src", "testdata/osv"}, "", "usage"},
		{"time with mod", []string{"-mod", "-", "-time", "2099-01-01T00:00:00Z"}, "", "only for -src"},
		{"bad time", []string{"-src", "testdata/osv", "-time", "yesterday", "-out", "x"}, "", "-time"},
		{"download error", []string{"-mod", "-", "-out", "x"}, `{"Path":"golang.org/x/vulndb","Version":"v9","Error":"proxy unreachable"}`, "proxy unreachable"},
		{"no dir", []string{"-mod", "-", "-out", "x"}, `{"Path":"golang.org/x/vulndb","Version":"v9"}`, "lacks Dir"},
		{"not json", []string{"-mod", "-", "-out", "x"}, `go: downloading`, "reading go mod download"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, strings.NewReader(tc.stdin), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("run(%q) error = %v, want one mentioning %q", tc.args, err, tc.msg)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	ents, err := filepath.Glob("testdata/osv/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range ents {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, out, err := normalize(raw, snapshot)
		if err != nil {
			if !errors.Is(err, ErrBadEntry) {
				t.Fatalf("error %v does not wrap ErrBadEntry", err)
			}
			return
		}
		again, out2, err := normalize(out, snapshot)
		if err != nil {
			t.Fatalf("normalized entry does not parse again: %v\n%s", err, out)
		}
		if again.ID != e.ID || !again.Modified.Equal(e.Modified) || e.Modified.IsZero() {
			t.Fatalf("round trip changed id/modified: %q %v -> %q %v", e.ID, e.Modified, again.ID, again.Modified)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("normalize is not idempotent:\n%s\n%s", out, out2)
		}
	})
}
