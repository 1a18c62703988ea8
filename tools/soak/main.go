// Command soak is the soak and load test of subtitled: it runs the real
// daemon binary with N channels of looping input, M WebSocket clients that
// connect and disconnect at random, and a SIGHUP reload of one channel at a
// fixed interval, samples the process over time and fails on growth.
//
//	go run ./tools/soak -bin bin/subtitled -input testdata/gen/sample.ts \
//	    -channels 8 -clients 200 -duration 10m -reload 5m -sample 10s -warmup 1m \
//	    [-model DIR] [-fast] [-csv out.csv] [-max-rss-growth 5]
//
// The run has three phases. Warm-up: the daemon starts and its channels run
// without clients for -warmup; at its end the baseline (RSS, goroutines, open
// files) is sampled. Run: for -duration the clients churn and the reloads
// happen. Drain: the clients stop, the daemon is given a few seconds to let
// go of them, and a last sample is compared with the baseline. Then the
// daemon gets SIGTERM and must exit 0 within shutdown_timeout + 5 s.
//
// Every -sample interval it prints (and with -csv writes) the daemon's CPU
// use since the previous sample (percent of one core, from /proc/PID/stat),
// VmRSS, open file descriptors, goroutines, cues emitted, dropped audio
// seconds, the mean final latency since the previous sample, and the
// connected WebSocket clients (from /metrics).
//
// RSS growth is judged under steady load: from the first sample after the
// clients have churned for one -warmup period (without clients: the end of
// warm-up) to the last sample before they stop. Comparing the idle baseline
// with the RSS after the clients left, which is printed too, would count
// the allocator's high-water mark from serving the clients as growth.
//
// The tool exits 1, naming the reasons, when RSS grew by more than
// -max-rss-growth percent under load, goroutines or file descriptors did
// not come back to the baseline (within -max-goroutine-growth and
// -max-fd-growth), a reload restarted or disturbed a channel it did not
// change, a client saw cue ids that did not increase, the server closed a
// client connection, the daemon exited other than with 0 after SIGTERM, or no
// cue was emitted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command-line settings of one soak run.
type options struct {
	bin          string
	input        string
	model        string
	channels     int
	clients      int
	duration     time.Duration
	reload       time.Duration
	sample       time.Duration
	warmup       time.Duration
	fast         bool
	csv          string
	maxRSSGrowth float64
	maxGoroutine int
	maxFD        int
	seed         uint64
	keep         bool
	verbose      bool
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.bin, "bin", "bin/subtitled", "the subtitled binary to run")
	fs.StringVar(&o.input, "input", "testdata/gen/sample.ts", "MPEG-TS file every channel loops")
	fs.StringVar(&o.model, "model", "", "model bundle directory (default: the embedded demo model)")
	fs.IntVar(&o.channels, "channels", 8, "number of channels")
	fs.IntVar(&o.clients, "clients", 200, "WebSocket clients churning (0: none)")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "length of the run after warm-up")
	fs.DurationVar(&o.reload, "reload", 5*time.Minute, "interval between SIGHUP reloads (0: never)")
	fs.DurationVar(&o.sample, "sample", 10*time.Second, "sampling interval")
	fs.DurationVar(&o.warmup, "warmup", time.Minute, "time the channels run before the baseline sample")
	fs.BoolVar(&o.fast, "fast", false, "read the input as fast as recognition allows instead of in real time")
	fs.StringVar(&o.csv, "csv", "", "write the samples to this CSV file")
	fs.Float64Var(&o.maxRSSGrowth, "max-rss-growth", 5, "largest RSS growth after warm-up, in percent")
	fs.IntVar(&o.maxGoroutine, "max-goroutine-growth", 10, "most goroutines above the baseline once the clients left")
	fs.IntVar(&o.maxFD, "max-fd-growth", 10, "most open files above the baseline once the clients left")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the clients' random choices (0: from the clock)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, daemon log, caption files)")
	fs.BoolVar(&o.verbose, "v", false, "print each reload check and client problem as it happens")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.bin == "" || o.input == "":
		return o, errors.New("-bin and -input are required")
	case o.channels < 1:
		return o, errors.New("-channels must be at least 1")
	case o.clients < 0:
		return o, errors.New("-clients must not be negative")
	case o.duration <= 0 || o.sample <= 0:
		return o, errors.New("-duration and -sample must be positive")
	case o.reload < 0 || o.warmup < 0:
		return o, errors.New("-reload and -warmup must not be negative")
	case o.maxRSSGrowth < 0 || o.maxGoroutine < 0 || o.maxFD < 0:
		return o, errors.New("the -max-* limits must not be negative")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if len(res.Failures) > 0 {
		fmt.Fprintln(os.Stderr, "soak: FAILED")
		for _, f := range res.Failures {
			fmt.Fprintln(os.Stderr, "  -", f)
		}
		os.Exit(1)
	}
	fmt.Println("soak: PASS")
}
