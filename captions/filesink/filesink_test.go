package filesink

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/format"
)

func cue(id uint64) captions.Cue {
	start := int64(id) * 2 * 90000
	return captions.Cue{
		ID: id, Track: "verbatim",
		Lines: []string{fmt.Sprintf("cue number %d", id), "second line"},
		Start: start, End: start + 90000,
		Emitted: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
	}
}

// parseIDs reads back the cue texts of a file and returns the numbers.
func parseIDs(t *testing.T, f format.Format, path string) []uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	switch f {
	case format.VTT, format.SRT:
		parse := format.ParseVTT
		if f == format.SRT {
			parse = format.ParseSRT
		}
		file, err := parse(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", path, err, b)
		}
		for _, c := range file.Captions() {
			texts = append(texts, c.Lines[0])
		}
	case format.JSON:
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			var c struct{ Lines []string }
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
			}
			texts = append(texts, c.Lines[0])
		}
	case format.TTML:
		d := xml.NewDecoder(strings.NewReader(string(b)))
		inP := false
		for {
			tok, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("%s is not well-formed XML: %v", path, err)
				}
				break
			}
			switch v := tok.(type) {
			case xml.StartElement:
				inP = inP || v.Name.Local == "p"
			case xml.EndElement:
				if v.Name.Local == "p" {
					inP = false
				}
			case xml.CharData:
				if s := strings.TrimSpace(string(v)); inP && strings.HasPrefix(s, "cue number") {
					texts = append(texts, s)
				}
			}
		}
	}
	var ids []uint64
	for _, tx := range texts {
		n, err := strconv.ParseUint(strings.TrimPrefix(tx, "cue number "), 10, 64)
		if err != nil {
			t.Fatalf("unexpected cue text %q", tx)
		}
		ids = append(ids, n)
	}
	return ids
}

func TestWriteEveryFormat(t *testing.T) {
	for _, f := range format.Formats {
		t.Run(string(f), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "live"+f.Extension())
			s, err := Open(Options{Path: path, Format: f})
			if err != nil {
				t.Fatal(err)
			}
			for id := uint64(1); id <= 5; id++ {
				if err := s.Write(cue(id)); err != nil {
					t.Fatal(err)
				}
				// Readable after every cue, before Close.
				if got := parseIDs(t, f, path); len(got) != int(id) || got[id-1] != id {
					t.Fatalf("after cue %d the file holds %v", id, got)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(cue(6)); err != ErrClosed {
				t.Fatalf("write after close: %v", err)
			}
			if got := parseIDs(t, f, path); len(got) != 5 {
				t.Fatalf("after close: %v", got)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(dir, "cc.srt")
	s, err := Open(Options{Path: path, Format: format.SRT, RotateSize: 200, RotateInterval: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for id := uint64(1); id <= 10; id++ {
		if id == 9 {
			now = now.Add(2 * time.Hour) // the interval rotates even a small file
		}
		if err := s.Write(cue(id)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "cc*.srt"))
	if len(files) < 3 {
		t.Fatalf("want several rotated files, got %v", files)
	}
	seen := map[uint64]int{}
	for _, f := range files {
		for _, id := range parseIDs(t, format.SRT, f) {
			seen[id]++
		}
	}
	for id := uint64(1); id <= 10; id++ {
		if seen[id] != 1 {
			t.Fatalf("cue %d appears %d times across %v", id, seen[id], files)
		}
	}
	// A new sink on the same path keeps the old file.
	s2, err := Open(Options{Path: path, Format: format.SRT, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	after, _ := filepath.Glob(filepath.Join(dir, "cc*.srt"))
	if len(after) != len(files)+1 {
		t.Fatalf("reopening lost a file: %v -> %v", files, after)
	}
}

// TestCrashKeepsEmittedCues kills a writer process with SIGKILL at varying
// moments; every cue it reported as written must be in a file that parses.
func TestCrashKeepsEmittedCues(t *testing.T) {
	if os.Getenv("FILESINK_CHILD") != "" {
		child()
		return
	}
	for _, f := range []format.Format{format.VTT, format.SRT, format.JSON, format.TTML} {
		for round, delay := range []time.Duration{20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond} {
			path := filepath.Join(t.TempDir(), fmt.Sprintf("crash%d%s", round, f.Extension()))
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsEmittedCues$")
			cmd.Env = append(os.Environ(), "FILESINK_CHILD=1", "FILESINK_PATH="+path, "FILESINK_FORMAT="+string(f))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			reported := make(chan uint64, 1<<16)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if n, err := strconv.ParseUint(strings.TrimPrefix(sc.Text(), "written "), 10, 64); err == nil {
						reported <- n
					}
				}
				close(reported)
			}()
			// Kill some time after the first cue is written.
			last, ok := <-reported
			if !ok {
				t.Fatalf("%s: child wrote nothing", f)
			}
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			for n := range reported {
				last = n
			}
			ids := parseIDs(t, f, path)
			if uint64(len(ids)) < last {
				t.Fatalf("%s: reported %d cues written, file holds %d", f, last, len(ids))
			}
			for i, id := range ids {
				if id != uint64(i+1) {
					t.Fatalf("%s: cue %d is %d", f, i, id)
				}
			}
		}
	}
}

func child() {
	f := format.Format(os.Getenv("FILESINK_FORMAT"))
	s, err := Open(Options{Path: os.Getenv("FILESINK_PATH"), Format: f, RotateSize: 1 << 30})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for id := uint64(1); ; id++ {
		if err := s.Write(cue(id)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("written %d\n", id)
	}
}
