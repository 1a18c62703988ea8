package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/models/catalog"
)

// runModel is `subtitled model info|list|pull`.
func runModel(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: model info [DIR] | model list | model pull NAME [--dir DIR]", errUsage)
	}
	switch args[0] {
	case "info":
		return runModelInfo(e, args[1:])
	case "list":
		return runModelList(e, args[1:])
	case "pull":
		return runModelPull(e, args[1:])
	default:
		return fmt.Errorf("%w: unknown model command %q (want info, list or pull)", errUsage, args[0])
	}
}

func runModelInfo(e *env, args []string) error {
	fs := newFlagSet(e, "model info")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := ""
	switch fs.NArg() {
	case 0:
		d, err := findDemoModel(slog.Default())
		if err != nil {
			return err
		}
		dir = d
	case 1:
		dir = fs.Arg(0)
	default:
		return fmt.Errorf("%w: model info [DIR]", errUsage)
	}
	if err := onnx.Setup(); err != nil {
		return err
	}
	det, err := onnx.DetectFamily(dir)
	if err != nil {
		return err
	}
	switch {
	case det.Transducer && det.Supported:
		return transducerInfo(e, dir)
	case !det.Supported:
		fmt.Fprintf(e.stdout, "family:       %s (detected; this build cannot run it yet)\n", det.Family)
		fmt.Fprintf(e.stdout, "files:        %s\n", det.Describe())
		return fmt.Errorf("%s: %w: %s", dir, errFamily, det.Family)
	}
	b, err := onnx.OpenBundle(dir)
	if err != nil {
		return err
	}
	c := b.Contract
	w := e.stdout
	fmt.Fprintf(w, "bundle:       %s (%s)\n", b.Name(), b.Dir)
	if b.Config.Demo {
		fmt.Fprintln(w, "note:         DEMO MODEL trained on synthetic speech only; not for real broadcasts")
	}
	if c.Version > 0 {
		fmt.Fprintf(w, "family:       %s v%d\n", c.Family, c.Version)
	} else {
		fmt.Fprintf(w, "family:       %s (CTC)\n", c.Family)
	}
	fmt.Fprintf(w, "language:     %s\n", b.Config.Language)
	fmt.Fprintf(w, "features:     %s, %d bins, %d Hz\n", c.FeatureType, c.FeatureDim, c.SampleRate)
	fmt.Fprintf(w, "chunk:        %d frames in, shift %d (%d ms), subsampling %d → %d output frames per call\n",
		c.ChunkFrames, c.ChunkShift, c.ChunkShift*10, c.Subsampling, c.OutFrames())
	fmt.Fprintf(w, "vocabulary:   %d tokens (blank %d)\n", b.Tokens.Len(), c.BlankID)
	fmt.Fprintf(w, "heads:        %s\n", b.DescribeHeads())
	if opt, ok := b.BeamOptions(); ok {
		var parts []string
		if b.Lexicon != nil {
			parts = append(parts, fmt.Sprintf("lexicon %d words", b.Lexicon.Len()))
		}
		if b.LM != nil {
			parts = append(parts, fmt.Sprintf("%d-gram LM (weight %g, word bonus %g)", b.LM.Order(), opt.Alpha, opt.Beta))
		}
		fmt.Fprintf(w, "decoding:     prefix beam search, beam %d, %s\n", opt.Beam, strings.Join(parts, ", "))
	} else {
		fmt.Fprintln(w, "decoding:     greedy")
	}
	printStates(w, c.States, nil)
	if c.MaxBatch == 1 {
		fmt.Fprintln(w, "batch:        fixed at 1 stream per call")
	}
	return nil
}

// transducerInfo prints `model info` for an icefall transducer bundle.
func transducerInfo(e *env, dir string) error {
	b, err := onnx.OpenTransducer(dir)
	if err != nil {
		return err
	}
	p := b.Params
	w := e.stdout
	fmt.Fprintf(w, "bundle:       %s (%s)\n", b.Name(), b.Dir)
	fmt.Fprintf(w, "family:       %s transducer (encoder, decoder, joiner)\n", p.Family)
	if b.Config.Language != "" {
		fmt.Fprintf(w, "language:     %s\n", b.Config.Language)
	}
	fmt.Fprintf(w, "features:     %s, %d bins, %d Hz\n", p.FeatureType, p.FeatureDim, p.SampleRate)
	fmt.Fprintf(w, "chunk:        %d frames in, shift %d (%d ms), subsampling %d → %d encoder frames per call\n",
		p.ChunkFrames, p.ChunkShift, p.ChunkShift*10, p.Subsampling, p.OutFrames)
	fmt.Fprintf(w, "vocabulary:   %d tokens (blank %d)\n", p.VocabSize, p.BlankID)
	if len(p.DecoderStates) > 0 { // NeMo: a stateful LSTM prediction network, greedy search
		fmt.Fprintf(w, "decoder:      LSTM prediction network (%d dims), encoder %d dims\n", p.DecoderDim, p.EncoderDim)
		fmt.Fprintf(w, "heads:        verbatim (transducer; greedy search)\n")
	} else {
		fmt.Fprintf(w, "decoder:      context %d tokens, joiner dim %d\n", p.ContextSize, p.JoinerDim)
		fmt.Fprintf(w, "heads:        verbatim (transducer; greedy or modified beam search)\n")
	}
	printStates(w, p.States, p.DecoderStates)
	if p.MaxBatch == 1 {
		fmt.Fprintln(w, "batch:        fixed at 1 stream per call")
	}
	return nil
}

// printStates prints a model's per-stream states (encoder, then decoder)
// and their size.
func printStates(w io.Writer, enc, dec []onnx.StateInfo) {
	var names []string
	var bytes int64
	size := map[string]int64{"float32": 4, "int64": 8}
	for _, s := range append(slices.Clone(enc), dec...) {
		names = append(names, fmt.Sprintf("%s %s %v", s.Name, s.DType, s.Shape))
		bytes += s.Elements() * size[s.DType]
	}
	fmt.Fprintf(w, "states:       %d (%s)\n", len(names), strings.Join(names, ", "))
	fmt.Fprintf(w, "state/stream: %d bytes\n", bytes)
}

// defaultModelsDir is where `model pull` installs models without --dir.
const defaultModelsDir = "/var/lib/subtitled/models"

// modelsDir is $SUBTITLED_MODELS_DIR, else defaultModelsDir.
func modelsDir() string {
	if d := os.Getenv("SUBTITLED_MODELS_DIR"); d != "" {
		return d
	}
	return defaultModelsDir
}

// pullNote follows every install: pull fetches files, it does not make them
// runnable.
const pullNote = "note: `model pull` only downloads and installs the files; `model info DIR` tells whether this build's recognizer runs them (this build runs the icefall zipformer/LSTM transducers, zipformer2 CTC, NeMo CTC and transducers incl. Nemotron; docs/MODEL-BUNDLES.md)"

// runModelList is `subtitled model list`: the built-in catalogue.
func runModelList(e *env, args []string) error {
	fs := newFlagSet(e, "model list")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: subtitled model list")
		fmt.Fprintln(e.stderr, "Lists the models `subtitled model pull NAME` can install.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: model list takes no arguments", errUsage)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tFAMILY\tLICENCE\tSHA256")
	for _, m := range catalog.Entries() {
		size, sum := "?", "none (needs --sha256 or --insecure-no-checksum)"
		if m.Size > 0 {
			size = humanBytes(float64(m.Size))
		}
		if m.Pinned() {
			sum = "pinned " + m.SHA256[:12] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, size, m.Family, m.Licence, sum)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	for _, m := range catalog.Entries() {
		fmt.Fprintf(e.stdout, "%s: %s\n  %s\n", m.Name, m.Description, m.URL)
	}
	fmt.Fprintf(e.stdout, "\ninstall with: subtitled model pull NAME [--dir DIR]   (default dir: $SUBTITLED_MODELS_DIR, else %s)\n", defaultModelsDir)
	return nil
}

type pullFlags struct {
	dir, url, sha, mirror  string
	force, insecure, quiet bool
}

// runModelPull is `subtitled model pull NAME [--dir DIR] [--force]` and
// `subtitled model pull [NAME] --url URL (--sha256 HEX | --insecure-no-checksum)`.
func runModelPull(e *env, args []string) error {
	fs := newFlagSet(e, "model pull")
	var f pullFlags
	fs.StringVar(&f.dir, "dir", modelsDir(), "directory to install into (default: $SUBTITLED_MODELS_DIR, else "+defaultModelsDir+")")
	fs.StringVar(&f.url, "url", "", "fetch this .tar.bz2/.tar.gz/.tar instead of a catalogue entry (NAME, if given, names the directory)")
	fs.StringVar(&f.sha, "sha256", "", "expected sha256 of the archive (required with --url, unless --insecure-no-checksum)")
	fs.StringVar(&f.mirror, "mirror", "", "base URL of a mirror of the upstream release assets (catalogue entries are fetched as MIRROR/PACKAGE.tar.bz2, still checked against the pinned sha256)")
	fs.BoolVar(&f.force, "force", false, "replace an existing model directory")
	fs.BoolVar(&f.insecure, "insecure-no-checksum", false, "install without any checksum (prints the computed sha256); not recommended")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: subtitled model pull NAME [--dir DIR] [--force]")
		fmt.Fprintln(e.stderr, "       subtitled model pull [NAME] --url URL (--sha256 HEX | --insecure-no-checksum) [--dir DIR] [--force]")
		fmt.Fprintln(e.stderr, "NAME is one of `subtitled model list`.")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 1 || (len(positional) == 0 && f.url == "") {
		return fmt.Errorf("%w: model pull NAME [--dir DIR] [--force], or model pull [NAME] --url URL --sha256 HEX", errUsage)
	}
	sha := ""
	if f.sha != "" {
		s, err := catalog.ParseSHA256(f.sha)
		if err != nil {
			return fmt.Errorf("%w: --sha256: %v", errUsage, err)
		}
		sha = s
	}
	if f.insecure && sha != "" {
		return fmt.Errorf("%w: --sha256 and --insecure-no-checksum exclude each other", errUsage)
	}

	var entry catalog.Entry
	if f.url != "" {
		if f.mirror != "" {
			return fmt.Errorf("%w: --mirror applies to catalogue names, not to --url", errUsage)
		}
		name := catalog.NameFromURL(f.url)
		if len(positional) == 1 {
			name = positional[0]
		}
		if !catalog.ValidName(name) {
			return fmt.Errorf("%w: cannot use %q as a model directory name; give NAME before --url", errUsage, name)
		}
		entry = catalog.Entry{Name: name, URL: f.url, SHA256: sha}
	} else {
		m, err := catalog.Lookup(positional[0])
		if err != nil {
			return err
		}
		if sha != "" {
			if m.Pinned() && sha != m.SHA256 {
				return fmt.Errorf("%w: --sha256 %s differs from the pinned %s for %s (to fetch with your own checksum, use --url)", errUsage, sha, m.SHA256, m.Name)
			}
			m.SHA256 = sha
		}
		if f.mirror != "" {
			m.URL = strings.TrimRight(f.mirror, "/") + "/" + m.Package + ".tar.bz2"
		}
		entry = m
	}
	if entry.SHA256 == "" && !f.insecure {
		return fmt.Errorf("%w for %s: pass --sha256 HEX (a digest you trust), or --insecure-no-checksum to install it unverified", catalog.ErrNoChecksum, entry.URL)
	}
	if f.insecure {
		fmt.Fprintf(e.stderr, "WARNING: --insecure-no-checksum: %s will be installed WITHOUT verifying its integrity.\n", entry.URL)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := catalog.Options{
		Force:           f.force,
		AllowNoChecksum: f.insecure,
		UserAgent:       "subtitled/" + Version,
	}
	if !f.quiet {
		opts.Progress = newProgressPrinter(e.stderr).report
	}
	if !f.quiet {
		fmt.Fprintf(e.stderr, "pulling %s from %s into %s\n", entry.Name, entry.URL, f.dir)
	}
	res, err := catalog.Pull(ctx, entry, f.dir, opts)
	if err != nil {
		switch {
		case errors.Is(err, catalog.ErrExists):
			return fmt.Errorf("%w (pass --force to replace it)", err)
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted: %w; run the same command again to resume the download", err)
		}
		return err
	}
	if res.Verified {
		fmt.Fprintf(e.stdout, "verified: sha256 %s\n", res.SHA256)
	} else {
		fmt.Fprintf(e.stderr, "WARNING: NOT VERIFIED: the archive's sha256 is %s; check it against a trusted source and pass --sha256 %s next time.\n", res.SHA256, res.SHA256)
	}
	fmt.Fprintf(e.stdout, "installed to %s; run `subtitled model info %s`\n", res.Dir, res.Dir)
	fmt.Fprintln(e.stdout, pullNote)
	return nil
}

// progressPrinter writes Pull's progress to stderr: an updating line on a
// terminal (at most 4 a second), else a line every 5 s and at the end of
// each phase.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	every time.Duration
	last  time.Time
	width int
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, every: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.every = true, 250*time.Millisecond
		}
	}
	return p
}

func (p *progressPrinter) report(pr catalog.Progress) {
	now := time.Now()
	if !pr.Final && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	line := progressLine(pr)
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	end := ""
	if pr.Final {
		end, p.width = "\n", 0
	}
	fmt.Fprintf(p.w, "\r%s%s%s", line, pad, end)
}

// progressLine is "download 12.0 MiB / 296.0 MiB  4.1%  3.2 MiB/s".
func progressLine(pr catalog.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %s", pr.Phase, humanBytes(float64(pr.Done)))
	if pr.Total > 0 {
		fmt.Fprintf(&b, " / %s  %5.1f%%", humanBytes(float64(pr.Total)), pr.Percent())
	}
	if pr.Elapsed > 0 {
		fmt.Fprintf(&b, "  %s/s", humanBytes(pr.Rate()))
	}
	if pr.Phase == catalog.PhaseDownload && pr.Start > 0 {
		fmt.Fprintf(&b, "  (resumed at %s)", humanBytes(float64(pr.Start)))
	}
	if pr.Final {
		b.WriteString("  done")
	}
	return b.String()
}

// humanBytes formats a byte count with binary units.
func humanBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	i := -1
	for n >= unit && i < len(units)-1 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
