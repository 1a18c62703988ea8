// Command wer scores recognised text against reference text: word error rate and
// character error rate after normalising case and punctuation (package
// tools/wer).
//
//	wer [-hyp-format json|text] REF HYP [REF HYP ...]
//
// REF files are plain text. HYP files are plain text, or with -hyp-format json the
// JSON lines that `subtitled transcribe --format json` writes (one cue per line;
// the cue's "lines", "text" or "words" are used). Each pair is scored
// and printed, then the totals over all pairs (edits summed, not rates averaged).
package main

import (
	"flag"

	"fmt"
	"io"
	"os"
	"strings"

	"github.com/subtitled/subtitled/tools/wer"
)

func main() {
	format := flag.String("hyp-format", "text", "hypothesis format: text or json (JSON lines)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: wer [-hyp-format json|text] REF HYP [REF HYP ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(os.Stdout, *format, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "wer:", err)
		os.Exit(2)
	}
}

func run(w io.Writer, format string, args []string) error {
	if len(args) == 0 || len(args)%2 != 0 {
		return fmt.Errorf("want REF HYP pairs, got %d arguments", len(args))
	}
	if format != "text" && format != "json" {
		return fmt.Errorf("unknown -hyp-format %q", format)
	}
	var words, chars wer.Counts
	for i := 0; i < len(args); i += 2 {
		ref, err := os.ReadFile(args[i])
		if err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		hyp, err := readHyp(args[i+1], format)
		if err != nil {
			return err
		}
		wc, cc := wer.WordErrors(string(ref), hyp), wer.CharErrors(string(ref), hyp)
		words, chars = words.Add(wc), chars.Add(cc)
		fmt.Fprintf(w, "%s: WER %.2f%% (%d/%d) CER %.2f%% (%d/%d)\n", args[i+1],
			wc.Rate(), wc.Edits, wc.Ref, cc.Rate(), cc.Edits, cc.Ref)
	}
	fmt.Fprintf(w, "TOTAL: WER %.2f%% (%d/%d) CER %.2f%% (%d/%d) over %d files\n",
		words.Rate(), words.Edits, words.Ref, chars.Rate(), chars.Edits, chars.Ref, len(args)/2)
	return nil
}

func readHyp(path, format string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hypothesis: %w", err)
	}
	defer f.Close()
	if format == "json" {
		s, err := wer.ParseJSONLines(f)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	}
	var b strings.Builder
	if _, err := io.Copy(&b, f); err != nil {
		return "", fmt.Errorf("hypothesis: %w", err)
	}
	return b.String(), nil
}
