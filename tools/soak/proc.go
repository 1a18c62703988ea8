package main

import (
	"os"
	"strings"

	"github.com/subtitled/subtitled/tools/procstat"
)

// errMalformed marks /proc or metrics text that does not parse.
var errMalformed = procstat.ErrMalformed

// procSample is what one look at /proc/PID tells.
type procSample struct {
	ticks  uint64 // utime + stime, in clock ticks
	rssKiB uint64
	fds    int
}

func readProc(pid int) (procSample, error) {
	s, err := procstat.Read(pid)
	return procSample{ticks: s.Ticks, rssKiB: s.RSSKiB, fds: s.FDs}, err
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times.
var clockTicks = procstat.ClockTicks

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(f[:3], " ")
}
