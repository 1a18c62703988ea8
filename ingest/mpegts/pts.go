package mpegts

// ptsModulus is the period of the 33-bit PTS, DTS and PCR base: 2^33 ticks of
// the 90 kHz clock, about 26.5 hours.
const ptsModulus = int64(1) << 33

// wrapDelta returns a−b on the 33-bit circle as the signed difference of
// smallest magnitude, in [−2^32, 2^32).
func wrapDelta(a, b uint64) int64 {
	d := (int64(a) - int64(b)) & (ptsModulus - 1)
	if d >= ptsModulus/2 {
		d -= ptsModulus
	}
	return d
}

// unwrapper extends 33-bit timestamps into a monotonic int64 timeline. Each
// value is placed at the representative nearest to the previous one, so a
// forward wrap past 2^33 adds 2^33 and a small backward step stays a small
// backward step. A large jump lands wherever it is nearest; the demuxer
// reports it as a discontinuity. Every result v satisfies v mod 2^33 == raw.
type unwrapper struct {
	last     int64
	maxEpoch int64 // highest multiple of 2^33 reached
	valid    bool
}

// unwrap returns the extended value of raw, and 1 when it reached a multiple
// of 2^33 that no earlier value reached (a wrap), else 0. Jitter back and
// forth across a wrap counts once.
func (u *unwrapper) unwrap(raw uint64) (v int64, wraps int) {
	raw &= uint64(ptsModulus - 1)
	if !u.valid {
		u.last, u.valid = int64(raw), true
		return u.last, 0
	}
	v = u.last + wrapDelta(raw, uint64(u.last)&uint64(ptsModulus-1))
	if e := floorDiv(v, ptsModulus); e > u.maxEpoch {
		wraps = int(e - u.maxEpoch)
		u.maxEpoch = e
	}
	u.last = v
	return v, wraps
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
