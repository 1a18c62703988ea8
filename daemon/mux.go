package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/format"
	"github.com/subtitled/subtitled/captions/teletext"
	"github.com/subtitled/subtitled/captions/tsmux"
	"github.com/subtitled/subtitled/decoder"
)

// runMux is `subtitled mux --in IN.ts --out OUT.ts`: it recognises the
// input's speech (or reads --captions FILE.srt|.vtt) and writes the input
// TS unchanged with a DVB Teletext subtitle PID added.
func runMux(e *env, args []string) error {
	fs := newFlagSet(e, "mux")
	var f transcribeFlags
	in := fs.String("in", "", "input TS file, or - for stdin")
	out := fs.String("out", "", "output TS file, or - for stdout")
	capFile := fs.String("captions", "", "insert these captions (.srt or .vtt, times from the input's first PTS) instead of recognising")
	page := fs.Int("page", 888, "teletext page (100-899)")
	pid := fs.Uint("pid", 0, "teletext PID (0: the first free PID from 0x100)")
	fs.StringVar(&f.model, "model", "", "model bundle directory (default: the embedded demo model)")
	fs.StringVar(&f.track, "track", decoder.TrackSubtitle, "track inserted: verbatim or subtitle")
	fs.StringVar(&f.language, "language", "", "channel language (ISO 639): teletext character set and descriptor")
	fs.UintVar(&f.program, "program", 0, "TS program number (0: the first with audio)")
	fs.IntVar(&f.threads, "threads", 1, "ONNX Runtime intra-op threads")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: mux --in IN.ts --out OUT.ts [--captions FILE.srt|.vtt]", errUsage)
	}
	if *pid > 0x1FFE {
		return fmt.Errorf("%w: --pid %d is not a PID", errUsage, *pid)
	}
	if f.track != decoder.TrackVerbatim && f.track != decoder.TrackSubtitle {
		return fmt.Errorf("%w: --track %q (want verbatim or subtitle)", errUsage, f.track)
	}
	// Recognition reads the input twice: spool stdin to a temporary file.
	inPath := *in
	if inPath == "-" {
		tmp, err := os.CreateTemp("", "subtitled-mux-*.ts")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := io.Copy(tmp, e.stdin); err != nil {
			tmp.Close()
			return fmt.Errorf("reading stdin: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		inPath = tmp.Name()
	}
	opts := tsmux.Options{
		Program:  uint16(f.program),
		PID:      uint16(*pid),
		Teletext: teletext.Options{Page: *page, Language: f.language},
		OnWarning: func(err error) {
			if !f.quiet {
				fmt.Fprintf(e.stderr, "mux: %v\n", err)
			}
		},
	}
	var cues []captions.Cue
	if *capFile != "" {
		c, err := readCaptionFile(*capFile)
		if err != nil {
			return err
		}
		cues = c
		opts.CueTimes = tsmux.CueTimesRelative
	} else {
		fh, err := os.Open(inPath)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		st, _ := fh.Stat()
		f.maxChars = teletext.MaxLineCells
		c, _, lang, err := recognise(e, fh, inPath, st.Size(), f)
		fh.Close()
		if err != nil {
			return err
		}
		cues = c
		if opts.Teletext.Language == "" {
			opts.Teletext.Language = lang
		}
		opts.CueTimes = tsmux.CueTimesAbsolute
	}
	src, err := os.Open(inPath)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	defer src.Close()
	var w io.Writer
	var outFile *os.File
	if *out == "-" {
		w = e.stdout
	} else {
		dir := filepath.Dir(*out)
		outFile, err = os.CreateTemp(dir, "."+filepath.Base(*out)+".tmp*")
		if err != nil {
			return fmt.Errorf("output: %w", err)
		}
		defer os.Remove(outFile.Name())
		w = outFile
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := tsmux.MuxCaptions(bufio.NewReaderSize(src, 1<<20), bw, cues, opts); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if outFile != nil {
		if err := outFile.Sync(); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		if err := outFile.Close(); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		if err := os.Rename(outFile.Name(), *out); err != nil {
			return fmt.Errorf("output: %w", err)
		}
	}
	if !f.quiet {
		fmt.Fprintf(e.stderr, "mux: %d cue(s) on teletext page %d\n", len(cues), *page)
	}
	return nil
}

// readCaptionFile parses an SRT or WebVTT file by its extension.
func readCaptionFile(path string) ([]captions.Cue, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	defer fh.Close()
	var file *format.File
	switch strings.ToLower(filepath.Ext(path)) {
	case ".srt":
		file, err = format.ParseSRT(fh)
	case ".vtt":
		file, err = format.ParseVTT(fh)
	default:
		return nil, fmt.Errorf("captions: %s: want a .srt or .vtt file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("captions: %s: %w", path, err)
	}
	cues := file.Captions()
	if len(cues) == 0 {
		return nil, fmt.Errorf("captions: %s: %w", path, errors.New("no cues"))
	}
	return cues, nil
}
