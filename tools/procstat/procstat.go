// Package procstat reads a process's CPU time, resident memory and open
// files from Linux /proc, for the measuring tools (tools/soak,
// tools/whipload).
package procstat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// ErrMalformed marks /proc text that does not parse.
var ErrMalformed = errors.New("malformed")

// Sample is one look at /proc/PID.
type Sample struct {
	Ticks  uint64 // utime + stime, in clock ticks (ClockTicks per second)
	RSSKiB uint64
	FDs    int
}

// Read samples /proc/PID.
func Read(pid int) (Sample, error) {
	var s Sample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.Ticks, err = ParseStatTicks(string(stat)); err != nil {
		return s, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	if s.RSSKiB, err = ParseVmRSS(string(status)); err != nil {
		return s, err
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.FDs = len(ents)
	return s, nil
}

// ParseStatTicks returns utime + stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and may
// hold spaces and ')', so fields are counted from the last ')'.
func ParseStatTicks(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name: %w", ErrMalformed)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name: %w", len(f), ErrMalformed)
	}
	u, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat utime %q: %w", f[11], ErrMalformed)
	}
	s, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat stime %q: %w", f[12], ErrMalformed)
	}
	return u + s, nil
}

// ParseVmRSS returns the VmRSS line of /proc/PID/status in KiB.
func ParseVmRSS(status string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: VmRSS line %q: %w", line, ErrMalformed)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status: VmRSS %q: %w", f[0], ErrMalformed)
		}
		return kb, nil
	}
	return 0, fmt.Errorf("status: no VmRSS line: %w", ErrMalformed)
}

// ClockTicks is USER_HZ, the unit of /proc/PID/stat times.
var ClockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100 // USER_HZ on every Linux platform Go supports
})
