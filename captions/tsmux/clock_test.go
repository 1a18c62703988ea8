package tsmux

import "testing"

func TestWrapDiff(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{10, 5, 5},
		{5, 10, -5},
		{3, ptsModulus - 2, 5},
		{ptsModulus - 2, 3, -5},
		{ptsModulus + 7, 7, 0},
	} {
		if got := wrapDiff(tc.a, tc.b); got != tc.want {
			t.Errorf("wrapDiff(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClock(t *testing.T) {
	var c clock
	step := func(pcr int64, disc bool, bytes int) (int64, int64) {
		c.onPCR(pcr, disc)
		p, st := c.now()
		c.advance(bytes)
		return p, st
	}
	// 1000 bytes per 40 ms.
	step(pcrModulus-pcrHz/50, false, 1000) // 20 ms before the wrap
	if _, st := step(pcrHz/50, false, 500); st != pcrHz/25 {
		t.Fatalf("stream time across the wrap: %d", st)
	}
	// Halfway to the next PCR, interpolated.
	if p, st := c.now(); p != pcrHz/50+pcrHz/50 || st != pcrHz/25+pcrHz/50 {
		t.Fatalf("interpolated %d %d", p, st)
	}
	c.advance(500)
	// A jump back: stream time continues by the byte rate.
	if _, st := step(12345, false, 1000); st != 2*pcrHz/25 || c.jumps != 1 {
		t.Fatalf("after a jump: %d, %d jumps", st, c.jumps)
	}
	if _, st := step(12345+pcrHz/25, false, 1000); st != 3*pcrHz/25 {
		t.Fatalf("after the jump: %d", st)
	}
	// The discontinuity indicator, and a forced break, count as jumps.
	step(12345+2*pcrHz/25, true, 1000)
	c.breakNext()
	step(12345+3*pcrHz/25, false, 1000)
	if c.jumps != 3 {
		t.Fatalf("%d jumps", c.jumps)
	}
}
