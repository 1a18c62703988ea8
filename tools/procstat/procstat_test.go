package procstat

import (
	"errors"
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	stat := "4242 (whip load) S 1 4242 4242 0 -1 4194560 1000 0 0 0 123 45 0 0 20 0 12 0 100 0 0"
	if got, err := ParseStatTicks(stat); err != nil || got != 168 {
		t.Errorf("ParseStatTicks = %d, %v; want 168", got, err)
	}
	if _, err := ParseStatTicks("garbage"); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage stat: %v", err)
	}
	status := "Name:\twhipload\nVmPeak:\t  100 kB\nVmRSS:\t   20480 kB\nThreads:\t5\n"
	if got, err := ParseVmRSS(status); err != nil || got != 20480 {
		t.Errorf("ParseVmRSS = %v, %v; want 20480", got, err)
	}
	if _, err := ParseVmRSS("Name:\tx\n"); !errors.Is(err, ErrMalformed) {
		t.Errorf("no VmRSS: %v", err)
	}
}

// Read works on this very process.
func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB == 0 || s.FDs == 0 {
		t.Fatalf("implausible sample %+v", s)
	}
	if ClockTicks() <= 0 {
		t.Fatal("no clock ticks")
	}
}
