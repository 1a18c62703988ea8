package daemon

import (
	"errors"
	"fmt"

	"github.com/subtitled/subtitled/config"
)

// runCheckConfig validates a config file and prints every problem, one per
// line, each naming its key.
func runCheckConfig(e *env, args []string) error {
	fs := newFlagSet(e, "check-config")
	quiet := fs.Bool("q", false, "print nothing when the file is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: check-config FILE", errUsage)
	}
	path := fs.Arg(0)
	cfg, err := config.Load(path)
	if err != nil {
		var list config.Errors
		if errors.As(err, &list) {
			for _, ve := range list {
				fmt.Fprintln(e.stderr, ve.Error())
			}
			return fmt.Errorf("%s: %d problem(s)", path, len(list))
		}
		return err
	}
	if !*quiet {
		fmt.Fprintf(e.stdout, "%s: ok (%d channel(s))\n", path, len(cfg.Channels))
	}
	return nil
}
