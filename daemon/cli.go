// Package daemon is the subtitled process: the command-line interface, the
// channel supervisor, the HTTP server, systemd integration, reload and
// shutdown. It wires the other packages together; nothing imports it.
package daemon

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
)

// Version is set at build time with -ldflags.
var Version = "dev"

// errUsage marks a command-line mistake: the command prints usage and exits 2.
var errUsage = errors.New("usage")

// env is what a command sees of the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	summary string
	run     func(e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"version":      {"print the version and exit", runVersion},
		"check-config": {"validate a config file: check-config FILE", runCheckConfig},
		"transcribe":   {"caption a file or stdin: transcribe [flags] INPUT", runTranscribe},
		"model":        {"inspect a model bundle: model info [DIR]", runModel},
		"mux":          {"add a teletext subtitle PID: mux --in IN.ts --out OUT.ts [--captions FILE]", runMux},
		"run":          {"run the daemon: run --config FILE [--listen ADDR]", runRun},
	}
}

// Main runs the subtitled command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "subtitled: unknown command %q\n", args[0])
		printUsage(stderr, cmds)
		return 2
	}
	err := c.run(e, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "subtitled %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "subtitled %s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: subtitled COMMAND [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("subtitled "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func runVersion(e *env, args []string) error {
	fmt.Fprintf(e.stdout, "subtitled %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// exists reports whether path names an existing file or directory.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments (transcribe IN --format srt) and returns the
// positionals in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
