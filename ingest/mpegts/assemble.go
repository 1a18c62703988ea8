package mpegts

import (
	"errors"
)

type pesState struct {
	buf      []byte
	active   bool
	lenKnown bool
	want     int // total PES size when PES_packet_length != 0
	reasons  Reason
}

// onAudio assembles the PES of the selected audio PID.
func (d *Demuxer) onAudio(h *header, cc uint8) {
	d.clk.lastAudio = d.clk.now
	if h.tsc != 0 {
		d.stats.ScrambledAudioPackets++
		d.dropPES(ReasonScrambled)
		return
	}
	switch cc {
	case ccDup:
		return
	case ccErr:
		d.dropPES(ReasonContinuity)
	}
	if h.discontinuity {
		if h.pusi {
			d.pending |= ReasonIndicator
		} else {
			d.dropPES(ReasonIndicator)
		}
	}
	if len(h.payload) == 0 {
		return
	}
	if h.pusi {
		d.finishPES()
		d.pes.active = true
		d.pes.lenKnown = false
		d.pes.want = 0
		d.pes.buf = append(d.pes.buf[:0], h.payload...)
		d.pes.reasons = d.pending
		d.pending = 0
	} else {
		if !d.pes.active {
			return // wait for the start of the next PES
		}
		if len(d.pes.buf)+len(h.payload) > d.opts.MaxPESSize {
			d.stats.PESTooLarge++
			d.dropPES(ReasonDropped)
			return
		}
		d.pes.buf = append(d.pes.buf, h.payload...)
	}
	if !d.pes.lenKnown && len(d.pes.buf) >= 6 {
		d.pes.lenKnown = true
		if n := int(d.pes.buf[4])<<8 | int(d.pes.buf[5]); n > 0 {
			d.pes.want = 6 + n
		}
	}
	if d.pes.want > 0 && len(d.pes.buf) >= d.pes.want {
		d.pes.active = false
		d.emit(d.pes.buf[:d.pes.want])
	}
}

// dropPES drops the PES being assembled and records why audio was lost.
func (d *Demuxer) dropPES(reason Reason) {
	d.pending |= reason
	if d.pes.active {
		d.pes.active = false
		d.pending |= d.pes.reasons
		d.stats.PESDropped++
	}
}

// finishPES completes the PES being assembled when its end is implied: by
// the start of the next one, or by the end of input.
func (d *Demuxer) finishPES() {
	if !d.pes.active {
		return
	}
	d.pes.active = false
	if d.pes.want > 0 && len(d.pes.buf) < d.pes.want {
		d.stats.PESDropped++ // shorter than its PES_packet_length
		d.pending |= ReasonDropped | d.pes.reasons
		return
	}
	d.emit(d.pes.buf)
}

// emit parses a complete PES and queues it.
func (d *Demuxer) emit(b []byte) {
	hdr, err := parsePESHeader(b)
	if err != nil {
		if !errors.Is(err, errPESPadding) {
			d.stats.PESErrors++
			d.pending |= ReasonDropped | d.pes.reasons
		} else {
			d.pending |= d.pes.reasons
		}
		return
	}
	reasons := d.pes.reasons
	ev := PES{
		Program:    d.sel.program,
		PID:        d.sel.es.pid,
		StreamType: d.sel.es.streamType,
		Codec:      d.sel.es.codec,
		Language:   d.sel.es.language(),
		Data:       append([]byte(nil), b[hdr.payload:]...),
	}
	if hdr.hasPTS {
		v, wraps := d.unwrap.unwrap(hdr.pts)
		d.stats.PTSWraps += uint64(wraps)
		if d.hasLastPTS {
			delta := v - d.lastPTS
			if off := v - (d.lastPTS + d.interval); off > d.ptsJump || off < -d.ptsJump {
				reasons |= ReasonPTSJump
				d.interval = 0
			} else if delta > 0 {
				d.interval = min(delta, d.ptsJump)
			}
			if delta > ptsRepetition && reasons&(ReasonIndicator|ReasonStreamChange) == 0 {
				d.stats.PTSError++
			}
		}
		d.lastPTS, d.hasLastPTS = v, true
		ev.PTS, ev.HasPTS = v, true
	}
	if d.stats.PESDelivered == 0 {
		reasons = 0
	}
	ev.Reasons = reasons
	ev.Discontinuity = reasons != 0
	if ev.Discontinuity {
		d.stats.Discontinuities++
	}
	d.stats.PESDelivered++
	d.q = append(d.q, item{pes: ev})
}
