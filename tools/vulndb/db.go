package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrNoEntries is returned when the source directory holds no OSV entries:
// an empty database would make govulncheck report "no vulnerabilities"
// for everything.
var ErrNoEntries = errors.New("no OSV entries found")

// ErrBadEntry is wrapped by every error about a malformed OSV entry.
var ErrBadEntry = errors.New("bad OSV entry")

// osvEntry is the part of an OSV entry (https://go.dev/security/vuln/database#schema)
// that the indexes are computed from. The entry itself is written back with
// all its fields.
type osvEntry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced"`
		Fixed      string `json:"fixed"`
	} `json:"events"`
}

// dbMeta is index/db.json.
type dbMeta struct {
	Modified time.Time `json:"modified"`
}

// moduleMeta is one element of index/modules.json.
type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

// vulnMeta is one element of index/vulns.json.
type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// database is a complete v1 database held in memory.
type database struct {
	meta    dbMeta
	modules []moduleMeta
	vulns   []vulnMeta
	entries map[string][]byte // ID -> entry JSON
}

// build reads every <ID>.json OSV file in dir and indexes it. Entries whose
// modified time is unset (x/vulndb's committed data/osv files carry the zero
// time; the published database takes it from git history) get snapshot,
// the commit time of the x/vulndb version they came from.
func build(dir string, snapshot time.Time) (*database, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoEntries)
	}
	snapshot = snapshot.UTC().Truncate(time.Second)
	db := &database{entries: make(map[string][]byte, len(names))}
	mods := map[string]*moduleMeta{}
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading entry: %w", err)
		}
		e, out, err := normalize(raw, snapshot)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if base := filepath.Base(name); base != e.ID+".json" {
			return nil, fmt.Errorf("%s: %w: file name does not match id %q", name, ErrBadEntry, e.ID)
		}
		db.entries[e.ID] = out
		if e.Modified.After(db.meta.Modified) {
			db.meta.Modified = e.Modified
		}
		db.vulns = append(db.vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			m := mods[a.Package.Name]
			if m == nil {
				m = &moduleMeta{Path: a.Package.Name}
				mods[a.Package.Name] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFix(a.Ranges)})
		}
	}
	for _, m := range mods {
		slices.SortStableFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		db.modules = append(db.modules, *m)
	}
	slices.SortFunc(db.modules, func(a, b moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(db.vulns, func(a, b vulnMeta) int { return strings.Compare(a.ID, b.ID) })
	return db, nil
}

// normalize validates one OSV entry, stamps an unset modified time with
// snapshot and returns the parsed head and the compact entry JSON. Fields
// it does not know are kept as they are.
func normalize(raw []byte, snapshot time.Time) (osvEntry, []byte, error) {
	var e osvEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, nil, fmt.Errorf("%w: %w", ErrBadEntry, err)
	}
	if e.ID == "" {
		return e, nil, fmt.Errorf("%w: no id", ErrBadEntry)
	}
	for _, a := range e.Affected {
		if a.Package.Name == "" {
			return e, nil, fmt.Errorf("%w: %s: affected package without a name", ErrBadEntry, e.ID)
		}
		if a.Package.Ecosystem != "Go" {
			return e, nil, fmt.Errorf("%w: %s: ecosystem %q, want Go", ErrBadEntry, e.ID, a.Package.Ecosystem)
		}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return e, nil, fmt.Errorf("%w: %w", ErrBadEntry, err)
	}
	// encoding/json matches field names case-insensitively; a key such as
	// "ID" next to "id" would make the entry mean different things to
	// different readers.
	for key := range fields {
		for _, known := range []string{"id", "modified", "aliases", "affected"} {
			if key != known && strings.EqualFold(key, known) {
				return e, nil, fmt.Errorf("%w: %s: field %q, want %q", ErrBadEntry, e.ID, key, known)
			}
		}
	}
	if e.Modified.IsZero() && !snapshot.IsZero() {
		e.Modified = snapshot
		stamp, err := json.Marshal(snapshot)
		if err != nil {
			return e, nil, fmt.Errorf("encoding modified time: %w", err)
		}
		fields["modified"] = stamp
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return e, nil, fmt.Errorf("encoding %s: %w", e.ID, err)
	}
	return e, bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// latestFix returns the version at and after which no SEMVER range of an
// affected module is vulnerable, or "" when there is none: the highest
// "fixed" event, unless some range re-introduces the vulnerability after
// it. This is the "fixed" field of index/modules.json, which govulncheck
// uses to skip entries without reading them.
func latestFix(ranges []osvRange) string {
	fix := ""
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, ev := range r.Events {
			if ev.Fixed != "" && compareVersions(fix, ev.Fixed) < 0 {
				fix = ev.Fixed
			}
		}
		for _, ev := range r.Events {
			if ev.Introduced != "" && ev.Introduced != "0" && compareVersions(fix, ev.Introduced) < 0 {
				fix = ""
				break
			}
		}
	}
	return fix
}

// files returns the database as relative path -> content, in the v1 layout
// read by govulncheck's file:// source: index/db.json, index/modules.json,
// index/vulns.json and ID/<ID>.json, all uncompressed.
func (db *database) files() (map[string][]byte, error) {
	out := make(map[string][]byte, len(db.entries)+3)
	for name, v := range map[string]any{
		"index/db.json":      db.meta,
		"index/modules.json": db.modules,
		"index/vulns.json":   db.vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", name, err)
		}
		out[name] = b
	}
	for id, b := range db.entries {
		out["ID/"+id+".json"] = b
	}
	return out, nil
}

// write replaces dir with the database. It writes into a fresh sibling
// directory and renames it into place, so a reader never sees a half-built
// database. An existing dir is only replaced if it looks like a database
// (it has index/db.json) or is empty.
func (db *database) write(dir string) error {
	files, err := db.files()
	if err != nil {
		return err
	}
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		return fmt.Errorf("creating staging directory: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	for _, sub := range []string{"index", "ID"} {
		if err := os.Mkdir(filepath.Join(tmp, sub), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", sub, err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, filepath.FromSlash(name)), b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("moving old database aside: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("installing database: %w", err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing old database: %w", err)
		}
	}
	return nil
}

// checkReplaceable refuses to replace a directory that is not a database
// built here, so a mistyped -out cannot delete unrelated files.
func checkReplaceable(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "index", "db.json")); err == nil {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s is not empty and holds no vulnerability database (index/db.json); refusing to replace it", dir)
	}
	return nil
}
