// Command faults writes one damaged copy of a clean MPEG transport stream
// per fault of the reliability catalogue (docs/RELIABILITY.md, "Fault
// fixtures"). The output is deterministic for a given input and -seed.
//
// Usage:
//
//	go run ./tools/faults -in clean.ts -out DIR [-seed 42] [-from 0.2 -to 0.5] [-wrap 0.6] [-splice other.ts]
//
// Faults that span a stretch of the stream are put in the window [-from,
// -to) (fractions of the stream); one-off changes (PTS, PCR, PMT and
// program changes) happen at -from; the PTS wrap of ptswrap.ts lands at
// -wrap (default: the middle of the window); the truncation cuts at -cut.
// The stall is a fault of live delivery, not of the bytes: see
// fault.Stall. With -splice, the
// fixture codecchange.ts is the input followed by the spliced file, byte
// for byte (make that file with another audio codec).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/subtitled/subtitled/tools/faults/fault"
)

func main() {
	in := flag.String("in", "", "clean input TS (188-byte packets)")
	out := flag.String("out", "", "output directory (created)")
	seed := flag.Uint64("seed", 42, "seed of the random faults")
	from := flag.Float64("from", 0.2, "start of the fault window, as a fraction of the stream")
	to := flag.Float64("to", 0.5, "end of the fault window, as a fraction of the stream")
	cut := flag.Float64("cut", 0.9, "where truncate.ts is cut, as a fraction of the stream")
	wrap := flag.Float64("wrap", 0, "where the clock of ptswrap.ts wraps past 2^33, as a fraction of the stream (0: the middle of the window)")
	splice := flag.String("splice", "", "TS appended to the input to make codecchange.ts")
	flag.Parse()
	if *in == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, *splice, fault.Options{Seed: *seed, Window: fault.Window{From: *from, To: *to}, Cut: *cut, Wrap: *wrap}); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

func run(in, out, splice string, opts fault.Options) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	fx, err := fault.Fixtures(data, opts)
	if err != nil {
		return err
	}
	if splice != "" {
		tail, err := os.ReadFile(splice)
		if err != nil {
			return err
		}
		fx["codecchange"] = fault.Concat(data, tail)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(fx))
	for n := range fx {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(out, n+".ts")
		if err := os.WriteFile(path, fx[n], 0o644); err != nil {
			return err
		}
		fmt.Printf("%s\t%d bytes\n", path, len(fx[n]))
	}
	return nil
}
