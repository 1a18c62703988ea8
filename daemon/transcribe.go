package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/subtitled/subtitled/config"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/format"
	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/ingest"
	"github.com/subtitled/subtitled/ingest/audio"
	"github.com/subtitled/subtitled/ingest/mpegts"
	"github.com/subtitled/subtitled/ingest/wav"
	demoen "github.com/subtitled/subtitled/models/demo-en"
)

// wallNow is the wall clock, a seam for tests.
var wallNow = time.Now

type transcribeFlags struct {
	model, format, track, out, language string
	program                             uint
	threads, maxChars                   int
	absolute, quiet                     bool
	// stats prints the input-health counters as one JSON line on stderr
	// at the end (TS input only).
	stats bool
	// commitAfter: see config.Model.CommitAfter.
	commitAfter time.Duration
}

// runTranscribe captions a file (TS or WAV) or a TS on stdin and writes one
// caption file.
func runTranscribe(e *env, args []string) error {
	fs := newFlagSet(e, "transcribe")
	var f transcribeFlags
	fs.StringVar(&f.model, "model", "", "model bundle directory (default: the embedded demo model)")
	fs.StringVar(&f.format, "format", "vtt", "caption format: vtt, srt, ttml or json")
	fs.StringVar(&f.track, "track", decoder.TrackVerbatim, "track: verbatim or subtitle")
	fs.StringVar(&f.out, "out", "-", "output file (- for stdout)")
	fs.StringVar(&f.language, "language", "", "preferred audio language (ISO 639) in the TS; also the caption language")
	fs.UintVar(&f.program, "program", 0, "TS program number (0: the first with audio)")
	fs.IntVar(&f.threads, "threads", 1, "ONNX Runtime intra-op threads")
	fs.DurationVar(&f.commitAfter, "commit-after", config.DefaultModel().CommitAfter,
		"early commits, as a live channel's commit_after: a finished word the search still weighs alternatives for becomes final this long after it ended (0: only at endpoints)")
	fs.BoolVar(&f.absolute, "absolute-times", false, "keep the stream's clock (default: the first audio PTS is 0)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	fs.BoolVar(&f.stats, "stats", false, "print the TS input-health counters (TR 101 290, audio decoder) as one JSON line on stderr at the end")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: subtitled transcribe [flags] INPUT   (INPUT: a .ts file, - for TS on stdin, or a .wav file)")
		fs.PrintDefaults()
	}
	// Accept flags after the input too (transcribe IN --format srt).
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return fmt.Errorf("%w: want exactly one INPUT (a .ts or .wav file, or - for stdin), got %d", errUsage, len(positional))
	}
	input := positional[0]
	fmtName, err := format.ParseFormat(f.format)
	if err != nil {
		return fmt.Errorf("%w: --format: %v", errUsage, err)
	}
	if f.track != decoder.TrackVerbatim && f.track != decoder.TrackSubtitle {
		return fmt.Errorf("%w: --track %q (want verbatim or subtitle)", errUsage, f.track)
	}
	if f.commitAfter < 0 || f.commitAfter > time.Minute {
		return fmt.Errorf("%w: --commit-after %v outside 0..1m", errUsage, f.commitAfter)
	}
	if f.program > 0xFFFF {
		return fmt.Errorf("%w: --program %d is not a program number", errUsage, f.program)
	}

	// Open the input first: a missing file is the most common mistake.
	var in io.Reader
	size := int64(-1)
	if input == "-" {
		in = e.stdin
	} else {
		fh, err := os.Open(input)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		defer fh.Close()
		if st, err := fh.Stat(); err == nil {
			if st.IsDir() {
				return fmt.Errorf("input: %s is a directory", input)
			}
			size = st.Size()
		}
		in = fh
	}

	cues, origin, lang, err := recognise(e, in, input, size, f)
	if err != nil {
		return err
	}

	wopts := format.Options{TimeBase: format.FixedOrigin, Origin: origin, Language: lang}
	if f.absolute {
		wopts = format.Options{TimeBase: format.Absolute, Language: lang}
	}
	w, err := format.NewWriter(fmtName, wopts)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := format.WriteAll(&buf, w, cues); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(e.stderr, "transcribe: %d cue(s)\n", len(cues))
	}
	if f.out == "-" {
		_, err = e.stdout.Write(buf.Bytes())
		return err
	}
	return writeFileAtomic(f.out, buf.Bytes())
}

// recognise runs the recognition chain over a TS or WAV input and returns
// the final cues of f.track (in media time), the PTS shown as 0 in files
// (the first audio PTS), and the caption language.
func recognise(e *env, in io.Reader, input string, size int64, f transcribeFlags) ([]captions.Cue, int64, string, error) {
	model, err := openModel(f.model, f.threads, f.commitAfter)
	if err != nil {
		return nil, 0, "", err
	}
	defer model.close()

	lang := f.language
	if lang == "" {
		lang = model.language
	}
	copts := captions.OptionsFor(captions.PresetFile)
	if f.maxChars > 0 {
		copts.MaxChars = f.maxChars
	}
	var cues []captions.Cue
	ch, err := newChain(model, chainOptions{
		Language: lang,
		Tracks:   []string{f.track},
		Captions: copts,
		Rules:    captions.DefaultRulesConfig(lang),
		OnCue:    func(c captions.Cue) { cues = append(cues, c) },
	})
	if err != nil {
		return nil, 0, "", err
	}
	defer ch.close()

	counter := &countingReader{r: in}
	var stopProgress func()
	if !f.quiet && input != "-" {
		stopProgress = startProgress(e.stderr, counter, size)
	}
	br := bufio.NewReaderSize(counter, 64<<10)
	var origin int64
	var haveOrigin bool
	if isWAV(br, input) {
		err = transcribeWAV(br, ch)
	} else {
		var st inputStats
		if f.stats {
			// Printed last, also after a failure; the decoder still open
			// counts after its final flush.
			defer func() {
				st.addDecoder(ch.dec)
				if line, jerr := json.Marshal(st.report()); jerr == nil {
					fmt.Fprintf(e.stderr, "%s\n", line)
				}
			}()
		}
		err = transcribeTS(br, ch, mpegts.Options{Program: uint16(f.program), Language: f.language}, func(pts int64) {
			if !haveOrigin {
				origin, haveOrigin = pts, true
			}
		}, &st)
	}
	if stopProgress != nil {
		stopProgress()
	}
	if err != nil {
		return nil, 0, "", err
	}
	if err := ch.finish(); err != nil {
		return nil, 0, "", err
	}
	return cues, origin, lang, nil
}

// openModel opens a bundle of any supported family (dir "" means the
// embedded demo model) and starts its sessions, with the endpointing and
// early commits a live channel gets (commitAfter), so that a file gives the
// captions a live stream of it would. Errors name the directory or the
// runtime library.
func openModel(dir string, threads int, commitAfter time.Duration) (*engine, error) {
	if dir == "" {
		d, err := findDemoModel(slog.Default())
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return openEngine(dir, engineOptions{Threads: threads, CommitAfter: commitAfter}, nil)
}

// demoModelDirs are where copies of the demo model on disk are looked for
// when the embedded one cannot be unpacked.
func demoModelDirs() []string {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "..", "models", "demo-en"))
	}
	return append(dirs, "/usr/share/subtitled/models/demo-en", filepath.Join("models", "demo-en"))
}

// demoCacheDir is where the embedded demo model is unpacked: systemd's
// CacheDirectory ($CACHE_DIRECTORY), else the user's cache directory, else
// a per-user directory in the temporary directory.
func demoCacheDir() string {
	if d, _, _ := strings.Cut(os.Getenv("CACHE_DIRECTORY"), ":"); d != "" {
		return filepath.Join(d, "models")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "subtitled", "models")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("subtitled-%d", os.Getuid()), "models")
}

// findDemoModel returns the directory of the demo model: the one embedded
// in the binary, unpacked into demoCacheDir, or a copy on disk if that
// fails (which it logs to log).
func findDemoModel(log *slog.Logger) (string, error) {
	dir, xerr := demoen.Extract(demoCacheDir())
	if xerr == nil {
		return dir, nil
	}
	dirs := demoModelDirs()
	for _, d := range dirs {
		if exists(filepath.Join(d, "model.onnx")) {
			log.Warn("using a demo model on disk", "dir", d, "err", xerr)
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: %w, and no demo model in %s; pass --model DIR", onnx.ErrBundleNotFound, xerr, strings.Join(dirs, ", "))
}

// isWAV reports whether the input is a RIFF/WAVE file, by name or content.
func isWAV(br *bufio.Reader, name string) bool {
	if strings.EqualFold(filepath.Ext(name), ".wav") {
		return true
	}
	head, _ := br.Peek(12)
	return len(head) == 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WAVE"
}

// inputStats are the counters `transcribe --stats` prints.
type inputStats struct {
	demux mpegts.Stats
	audio audio.Stats // summed over the decoders a codec change went through
}

// addDecoder adds the counters of one audio decoder.
func (s *inputStats) addDecoder(d *audio.Decoder) {
	if d == nil {
		return
	}
	a := d.Stats()
	s.audio.Packets += a.Packets
	s.audio.FramesDecoded += a.FramesDecoded
	s.audio.DecodeErrors += a.DecodeErrors
	s.audio.SamplesConcealed += a.SamplesConcealed
	s.audio.Discontinuities += a.Discontinuities
	s.audio.PTSJumps += a.PTSJumps
}

// report is the JSON object of `transcribe --stats`.
func (s *inputStats) report() map[string]any {
	d := s.demux
	r := map[string]any{
		"tr101290":                tr101290(d),
		"scrambled_audio_packets": d.ScrambledAudioPackets,
		"audio_packets":           s.audio.Packets,
		"audio_decode_errors":     s.audio.DecodeErrors,
		"audio_samples_concealed": s.audio.SamplesConcealed,
		"audio_discontinuities":   s.audio.Discontinuities,
		"audio_pts_jumps":         s.audio.PTSJumps,
	}
	for k, v := range demuxCounters(d) {
		r[k] = v
	}
	return r
}

// transcribeTS demuxes a transport stream and feeds its audio to the chain.
// first is called with the PTS of the first audio PES; st receives the
// demuxer's counters and those of the audio decoders replaced on the way.
func transcribeTS(r io.Reader, ch *chain, opts mpegts.Options, first func(int64), st *inputStats) error {
	d, err := mpegts.New(r, opts)
	if err != nil {
		return err
	}
	defer func() { st.demux = d.Stats() }()
	ctx := context.Background()
	var report error // the last demuxer report, while no audio was found
	audio := false
	for {
		p, err := d.Next(ctx)
		if errors.Is(err, io.EOF) {
			if !audio && report != nil {
				return report
			}
			return nil
		}
		if isInputReport(err) {
			// No audio, an unsupported codec or a missing program: the
			// demuxer goes on, and a later PAT or PMT may bring audio.
			// It fails the file only if none ever comes.
			report = err
			continue
		}
		if err != nil {
			return err
		}
		audio = true
		if p.HasPTS {
			first(p.PTS)
		}
		prev := ch.dec
		if err := ch.pes(p); err != nil {
			return err
		}
		if prev != nil && ch.dec != prev {
			st.addDecoder(prev) // replaced after a codec change
		}
	}
}

// transcribeWAV reads PCM from a WAV file, converts it to 16 kHz mono and
// feeds it to the chain with PTS 0 at the first sample.
func transcribeWAV(r io.Reader, ch *chain) error {
	wr, err := wav.NewReader(r)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	fm := wr.Format()
	rs, err := audio.NewResampler(fm.SampleRate, fm.Channels)
	if err != nil {
		return err
	}
	defer rs.Close()
	buf := make([]float32, 4096*fm.Channels)
	var n16 int64
	emit := func(out []float32) error {
		if len(out) == 0 {
			return nil
		}
		f := ingest.Frame{Samples: out, PTS: ingest.SamplePTS(0, n16), Wall: wallNow()}
		n16 += int64(len(out))
		return ch.frames([]ingest.Frame{f})
	}
	for {
		n, err := wr.Read(buf)
		if n > 0 {
			out, rerr := rs.Resample(buf[:n])
			if rerr != nil {
				return rerr
			}
			if err := emit(out); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
	}
	out, err := rs.Flush()
	if err != nil {
		return err
	}
	return emit(out)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// startProgress prints the share of the file read, once a second, until
// the returned function is called.
func startProgress(w io.Writer, c *countingReader, size int64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if size > 0 {
					fmt.Fprintf(w, "transcribe: %3d%% (%d of %d bytes)\n", c.n.Load()*100/size, c.n.Load(), size)
				} else {
					fmt.Fprintf(w, "transcribe: %d bytes\n", c.n.Load())
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("output: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("output: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	return nil
}
