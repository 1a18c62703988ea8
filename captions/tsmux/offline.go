package tsmux

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/ingest/mpegts"
)

// ErrNoOrigin: CueTimesRelative needs a PTS in the input to count cue times
// from, and the program's first packets had none.
var ErrNoOrigin = errors.New("tsmux: no PTS to count cue times from")

// lookaheadBytes bounds how much input MuxCaptions reads to find the origin.
const lookaheadBytes = 32 << 20

// MuxCaptions copies the transport stream in to out with the cues inserted
// as a teletext subtitle PID (the offline `subtitled mux --captions`).
//
// Cue times are relative to the input's first PTS by default (the smallest
// PTS among the first PES packets of the program's streams, which is what
// players show as 0:00), or absolute PTS with CueTimesAbsolute. Each cue
// replaces the previous one; overlapping cues are therefore shown one after
// the other (a cue's end is dropped when the next one starts before it), a
// cue whose end is not after its start is shown for DefaultDuration, and a
// cue without text clears the page. Cues that start after the input's last
// PCR are dropped (ErrCueDropped through OnWarning; in ffmpeg-made files the
// PCR ends about 0.7 s before the last PTS), and a cue still showing at the
// end is cleared there. The timeline is assumed continuous: after a PCR discontinuity,
// cue times no longer match the stream.
//
// opts.Sync, Delay and MaxPending are ignored. The input is read through a
// resync reader, so bytes between packets are dropped. When the program has
// no PMT or PCR, out receives the input unchanged (apart from the PMT) and
// the error wraps ErrNoPMT or ErrNoPCR.
func MuxCaptions(in io.Reader, out io.Writer, cues []captions.Cue, opts Options) error {
	opts.Sync, opts.Delay, opts.MaxPending = SyncDelay, 0, 0
	bw := bufio.NewWriterSize(out, 256<<10)
	m, err := New(bw, opts)
	if err != nil {
		return err
	}
	m.offline = true
	rs := mpegts.NewResync(in)

	// Read ahead to the origin.
	var ahead []byte
	var origin int64
	var readErr error
	if opts.CueTimes == CueTimesRelative {
		var o originFinder
		o.program = opts.Program
		for len(ahead) < lookaheadBytes {
			p, err := rs.NextPacket()
			if err != nil {
				readErr = err
				break
			}
			ahead = append(ahead, p...)
			if o.feed(p) {
				break
			}
		}
		origin = o.min
		if !o.found {
			// Without an origin the stream still goes through, uncaptioned.
			err := copyAll(m, ahead, rs, readErr)
			if ferr := bw.Flush(); ferr != nil && err == nil {
				err = fmt.Errorf("tsmux: write: %w", ferr)
			}
			if err == nil && len(cues) > 0 {
				err = ErrNoOrigin
			}
			return err
		}
	}
	sorted := slices.Clone(cues)
	slices.SortStableFunc(sorted, func(a, b captions.Cue) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	for _, c := range sorted {
		c.Start += origin
		c.End += origin
		if err := m.AddCue(c); err != nil {
			return err
		}
	}
	err = copyAll(m, ahead, rs, readErr)
	if ferr := bw.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("tsmux: write: %w", ferr)
	}
	return err
}

// copyAll feeds the packets read ahead and then the rest of the input to m
// and closes it.
func copyAll(m *Mux, ahead []byte, rs *mpegts.Resync, readErr error) error {
	for o := 0; o < len(ahead); o += tsSize {
		if err := m.WritePacket(ahead[o : o+tsSize]); err != nil {
			return err
		}
	}
	for readErr == nil {
		var p []byte
		p, readErr = rs.NextPacket()
		if readErr != nil {
			break
		}
		if err := m.WritePacket(p); err != nil {
			return err
		}
	}
	cerr := m.Close()
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return fmt.Errorf("tsmux: read: %w", readErr)
	}
	return cerr
}

// originFinder finds the smallest PTS among the first PES packets of the
// program's elementary streams.
type originFinder struct {
	program uint16
	pat     *sectionAssembler
	pmt     *sectionAssembler
	pmtPID  uint16
	streams map[uint16]bool // ES PIDs, true once a PTS was seen
	left    int
	found   bool
	first   int64
	min     int64
}

// feed takes one packet and reports whether the search is over.
func (o *originFinder) feed(p []byte) bool {
	if p[1]&0x80 != 0 {
		return false
	}
	pid := uint16(p[1]&0x1F)<<8 | uint16(p[2])
	payload, pusi, cc, ok := payloadOf(p)
	if !ok {
		return false
	}
	switch {
	case pid == 0:
		if o.pat == nil {
			o.pat = newSectionAssembler()
		}
		o.pat.push(payload, pusi, cc, func(s []byte) {
			progs, err := parsePAT(s)
			if err != nil || o.pmtPID != 0 {
				return
			}
			for _, e := range progs {
				if o.program == 0 || e.program == o.program {
					o.pmtPID, o.program = e.pid, e.program
					o.pmt = newSectionAssembler()
					return
				}
			}
		})
	case pid == o.pmtPID && o.streams == nil:
		o.pmt.push(payload, pusi, cc, func(s []byte) {
			info, err := parsePMT(s)
			if err != nil || info.program != o.program || o.streams != nil {
				return
			}
			o.streams = map[uint16]bool{}
			for _, e := range info.streams {
				o.streams[e.pid] = false
			}
			o.left = len(o.streams)
		})
	case o.streams != nil && pusi:
		done, known := o.streams[pid]
		if !known || len(payload) < 14 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 ||
			payload[6]&0xC0 != 0x80 || payload[7]&0x80 == 0 {
			return false
		}
		b := payload[9:14]
		pts := int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
		if !o.found {
			o.found, o.first, o.min = true, pts, pts
		} else if wrapDiff(pts, o.min) < 0 {
			o.min = pts
		}
		if !done {
			o.streams[pid] = true
			o.left--
		}
		// Stop when every stream has started, or 2 s into the media.
		return o.left == 0 || wrapDiff(pts, o.first) > 2*90000
	}
	return false
}
