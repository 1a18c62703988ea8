// Command subtitled is a live-stream subtitling daemon. All work happens in
// package daemon; main only hands it the arguments and sets the exit code.
package main

import (
	"os"

	"github.com/subtitled/subtitled/daemon"
)

func main() {
	os.Exit(daemon.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
