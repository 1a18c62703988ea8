// Command vulndb builds an offline Go vulnerability database for
// govulncheck from the golang.org/x/vulndb module, for machines that reach
// the Go module proxy but not vuln.go.dev.
//
// x/vulndb ships every published advisory as an OSV file in data/osv.
// vulndb indexes them into the v1 layout that `govulncheck -db file://DIR`
// reads (https://go.dev/security/vuln/database#api):
//
//	DIR/index/db.json       {"modified": newest entry time}
//	DIR/index/modules.json  [{"path", "vulns": [{"id", "modified", "fixed"}]}]
//	DIR/index/vulns.json    [{"id", "modified", "aliases"}]
//	DIR/ID/<GO-ID>.json     the OSV entry
//
// The committed OSV files carry a zero "modified" time (the published
// database takes it from git history), so vulndb stamps them with the
// commit time of the x/vulndb version: the database is as fresh as that.
//
// Usage:
//
//	go mod download -json golang.org/x/vulndb@VERSION | go run ./tools/vulndb -mod - [-out DIR]
//	go run ./tools/vulndb -src VULNDB_CHECKOUT_OR_OSV_DIR [-time RFC3339] [-out DIR]
//
// The default DIR is $(go env GOCACHE)/../subtitled-vulndb, outside the
// source tree.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("vulndb", flag.ContinueOnError)
	modJSON := fs.String("mod", "", "output of `go mod download -json golang.org/x/vulndb@VERSION` (file, or - for stdin)")
	src := fs.String("src", "", "an x/vulndb source tree, or a directory of <ID>.json OSV files (instead of -mod)")
	stamp := fs.String("time", "", "RFC 3339 time for entries without a modified time (with -src; -mod uses the version's commit time)")
	out := fs.String("out", "", "database directory to (re)create (default $(go env GOCACHE)/../subtitled-vulndb)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || (*modJSON == "") == (*src == "") {
		return errors.New("usage: vulndb (-mod FILE|- | -src DIR [-time RFC3339]) [-out DIR]")
	}
	var (
		dir      string
		snapshot time.Time
		origin   string
	)
	if *modJSON != "" {
		if *stamp != "" {
			return errors.New("-time is only for -src; with -mod the version's commit time is used")
		}
		m, err := readModDownload(*modJSON, stdin)
		if err != nil {
			return err
		}
		dir, snapshot, origin = m.Dir, m.time, m.Path+"@"+m.Version
	} else {
		dir, origin = *src, *src
		if *stamp != "" {
			t, err := time.Parse(time.RFC3339, *stamp)
			if err != nil {
				return fmt.Errorf("-time: %w", err)
			}
			snapshot = t
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "osv")); err == nil && fi.IsDir() {
		dir = filepath.Join(dir, "data", "osv")
	}
	if *out == "" {
		d, err := defaultOut()
		if err != nil {
			return err
		}
		*out = d
	}
	start := time.Now()
	db, err := build(dir, snapshot)
	if err != nil {
		return err
	}
	if err := db.write(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vulndb: %d entries, %d modules from %s (modified %s) -> %s in %s\n",
		len(db.entries), len(db.modules), origin, db.meta.Modified.Format(time.RFC3339), *out,
		time.Since(start).Round(time.Millisecond))
	return nil
}

// modDownload is the part of `go mod download -json` output used here.
type modDownload struct {
	Path, Version, Info, Dir, Error string
	time                            time.Time
}

// readModDownload reads `go mod download -json` output from name ("-" for
// stdin) and the commit time from the version's .info file.
func readModDownload(name string, stdin io.Reader) (modDownload, error) {
	var m modDownload
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return m, fmt.Errorf("-mod: %w", err)
		}
		defer f.Close()
		r = f
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return m, fmt.Errorf("-mod: reading go mod download -json output: %w", err)
	}
	if m.Error != "" {
		return m, fmt.Errorf("go mod download %s@%s: %s", m.Path, m.Version, m.Error)
	}
	if m.Dir == "" || m.Info == "" {
		return m, fmt.Errorf("-mod: go mod download output for %s@%s lacks Dir or Info", m.Path, m.Version)
	}
	b, err := os.ReadFile(m.Info)
	if err != nil {
		return m, fmt.Errorf("reading version info: %w", err)
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(b, &info); err != nil {
		return m, fmt.Errorf("parsing %s: %w", m.Info, err)
	}
	if info.Time.IsZero() {
		return m, fmt.Errorf("%s has no commit time", m.Info)
	}
	m.time = info.Time
	return m, nil
}

// defaultOut is $(go env GOCACHE)/../subtitled-vulndb.
func defaultOut() (string, error) {
	b, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOCACHE (give -out instead): %w", err)
	}
	cache := strings.TrimSpace(string(b))
	if cache == "" || cache == "off" {
		return "", errors.New("GOCACHE is unset or off; give -out")
	}
	return filepath.Join(filepath.Dir(cache), "subtitled-vulndb"), nil
}
