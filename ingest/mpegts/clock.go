package mpegts

// streamClock is stream time from the PCR, for the TR 101 290 timing checks.
type streamClock struct {
	autoPID   uint16 // first PID seen with a PCR
	autoSet   bool
	pid       uint16 // PID of last
	last      uint64
	hasLast   bool
	now       int64
	lastPAT   int64
	lastPMT   map[uint16]int64
	lastAudio int64
}

// clockPID returns the PID whose PCR drives stream time.
func (d *Demuxer) clockPID() (uint16, bool) {
	if d.sel.valid && d.sel.pcrPID != pidNull {
		return d.sel.pcrPID, true
	}
	return d.clk.autoPID, d.clk.autoSet
}

func (d *Demuxer) onPCR(h *header) {
	if !d.clk.autoSet {
		d.clk.autoPID, d.clk.autoSet = h.pid, true
	}
	if pid, ok := d.clockPID(); !ok || pid != h.pid {
		return
	}
	if !d.clk.hasLast || d.clk.pid != h.pid {
		d.clk.pid, d.clk.last, d.clk.hasLast = h.pid, h.pcr, true
		return
	}
	delta := wrapDelta(h.pcr, d.clk.last)
	d.clk.last = h.pcr
	if h.discontinuity {
		return
	}
	if delta < 0 || delta > pcrMaxGap {
		d.stats.PCRDiscontinuityError++
	}
	if delta > 0 && delta <= clockMaxStep {
		d.clk.now += delta
		d.timedChecks()
	}
}

// timedChecks runs the TR 101 290 presence checks against stream time.
func (d *Demuxer) timedChecks() {
	now := d.clk.now
	if now-d.clk.lastPAT > psiRepetition {
		d.stats.PATError++
		d.clk.lastPAT = now
	}
	for pid, t := range d.clk.lastPMT {
		if now-t > psiRepetition {
			d.stats.PMTError++
			d.clk.lastPMT[pid] = now
		}
	}
	if d.sel.valid && now-d.clk.lastAudio > d.pidTimeout {
		d.stats.PIDError++
		d.clk.lastAudio = now
	}
}
