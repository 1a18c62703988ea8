package tsmux

// Time on the two clocks of the mux:
//
//   - PCR time: the program clock (27 MHz, modulo 2^33·300) of the selected
//     program, read from its PCR PID and interpolated between PCRs with the
//     byte rate measured over the previous PCR interval. Caption PTS are
//     placed on it.
//   - stream time: a monotonic count of 27 MHz ticks since the first PCR
//     that follows PCR steps and bridges discontinuities (a jump, a step
//     back, or the discontinuity_indicator) by extrapolating with the byte
//     rate. The delay line measures its length in it.

const (
	pcrHz       = 27_000_000
	pcrModulus  = int64(1<<33) * 300
	ptsModulus  = int64(1) << 33
	maxPCRGap   = pcrHz // a PCR step over 1 s is a discontinuity
	ticksPerPCR = 300   // 27 MHz ticks per 90 kHz tick
)

type clock struct {
	valid bool
	last  int64   // last PCR, 27 MHz
	since int64   // bytes from the last PCR packet to the current packet
	rate  float64 // 27 MHz ticks per byte; 0 while unknown
	st    int64   // stream time at the last PCR
	jumps int     // discontinuities seen
	brk   bool    // treat the next PCR as a discontinuity
}

// breakNext makes the next PCR a discontinuity.
func (c *clock) breakNext() { c.brk = true }

// onPCR takes the PCR of the current packet.
func (c *clock) onPCR(pcr int64, disc bool) {
	if c.valid {
		d := (pcr - c.last) % pcrModulus
		if d < 0 {
			d += pcrModulus
		}
		switch {
		case disc || c.brk || d > maxPCRGap:
			c.st += c.extrapolate()
			c.jumps++
		case d > 0:
			if c.since > 0 {
				r := float64(d) / float64(c.since)
				if c.rate == 0 {
					c.rate = r
				} else {
					c.rate = (c.rate + r) / 2
				}
			}
			c.st += d
		}
	}
	c.valid, c.last, c.since, c.brk = true, pcr, 0, false
}

func (c *clock) extrapolate() int64 {
	if c.rate == 0 {
		return 0
	}
	return int64(float64(c.since) * c.rate)
}

// now returns the current packet's PCR time (27 MHz) and stream time.
func (c *clock) now() (pcr, st int64) {
	e := c.extrapolate()
	return (c.last + e) % pcrModulus, c.st + e
}

// advance moves past the current packet.
func (c *clock) advance(n int) { c.since += int64(n) }

// wrapDiff returns a−b on the 33-bit PTS circle as the signed difference of
// smallest magnitude.
func wrapDiff(a, b int64) int64 {
	d := (a - b) & (ptsModulus - 1)
	if d >= ptsModulus/2 {
		d -= ptsModulus
	}
	return d
}

func wrapPTS(v int64) int64 { return v & (ptsModulus - 1) }
