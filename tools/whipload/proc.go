package main

import "github.com/subtitled/subtitled/tools/procstat"

// cpuTicks returns utime+stime of a process from /proc/PID/stat.
func cpuTicks(pid int) (uint64, error) {
	s, err := procstat.Read(pid)
	return s.Ticks, err
}

// rssMiB returns VmRSS from /proc/PID/status in MiB.
func rssMiB(pid int) (float64, error) {
	s, err := procstat.Read(pid)
	return float64(s.RSSKiB) / 1024, err
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times.
var clockTicks = procstat.ClockTicks
