package mpegts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/asticode/go-astits"

	"github.com/subtitled/subtitled/ingest"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxPESSize   = 1 << 20
	DefaultPTSJump      = time.Second
	DefaultPIDTimeout   = 2 * time.Second
	DefaultProbePackets = 20000
)

// Stream-time limits on the 90 kHz clock.
const (
	psiRepetition = 45000      // TR 101 290 1.3 and 1.5: 0.5 s
	pcrMaxGap     = 9000       // TR 101 290 2.3b: 100 ms
	ptsRepetition = 63000      // TR 101 290 2.5: 700 ms
	clockMaxStep  = 10 * 90000 // a larger PCR step does not advance stream time
	maxDuration   = 24 * time.Hour
)

// Options configure a Demuxer. The zero value selects the first program with
// audio and its first audio stream.
type Options struct {
	// Program selects a program_number; 0 picks the first program in the
	// PAT that has a supported audio stream.
	Program uint16
	// Language prefers the audio stream whose ISO 639 language descriptor
	// matches: a three-letter ISO 639-2 code ("eng", "deu" or "ger") or a
	// two-letter ISO 639-1 code ("en"). Without a match, or when empty, the
	// first audio stream is used. Audio description streams (audio_type 3)
	// come last either way.
	Language string
	// OnPacket, if set, receives every aligned 188-byte input packet,
	// untouched and in order, before the demuxer looks at it (for the TS
	// re-mux). The slice is only valid during the call.
	OnPacket func(pkt []byte)
	// MaxPESSize caps an audio PES in bytes; a larger one is dropped.
	// 0 means DefaultMaxPESSize.
	MaxPESSize int
	// PTSJump is the largest PTS step, against the extrapolation from the
	// previous PES, that is not a discontinuity. 0 means DefaultPTSJump.
	PTSJump time.Duration
	// PIDTimeout is the stream time without packets on the audio PID after
	// which PIDError counts. 0 means DefaultPIDTimeout.
	PIDTimeout time.Duration
	// ProbePackets bounds the wait, in packets, for the PAT and for the PMTs
	// of all programs before the selection is decided (or ErrNoAudio is
	// reported), at the start and again after each PAT change. 0 means
	// DefaultProbePackets.
	ProbePackets int
	// NotTSLimit is how many bytes are scanned for a first sync pattern
	// before ErrNotTS. 0 means DefaultNotTSLimit.
	NotTSLimit int
}

// PES is one audio PES packet of the selected stream.
type PES struct {
	// Program is the program_number of the selected program.
	Program uint16
	// PID is the audio elementary stream's PID.
	PID uint16
	// StreamType is the stream_type from the PMT.
	StreamType uint8
	// Codec is the audio codec.
	Codec ingest.Codec
	// Language is the first ISO 639-2 code of the stream's language
	// descriptor, lower case, or "".
	Language string
	// Data is the PES payload: the elementary stream bytes after the PES
	// header. The caller owns it.
	Data []byte
	// PTS is the presentation time stamp on the 90 kHz clock, unwrapped:
	// it keeps increasing across the 33-bit wrap, and PTS mod 2^33 is the
	// value in the stream. Valid when HasPTS.
	PTS int64
	// HasPTS reports whether the PES carried a PTS.
	HasPTS bool
	// Discontinuity marks the first PES after a break: lost or dropped
	// data, a discontinuity_indicator, a stream change or a PTS jump.
	// Decoders reset, and consumers re-anchor their clock on this PTS.
	// It is never set on the first PES.
	Discontinuity bool
	// Reasons says what caused the discontinuity.
	Reasons Reason
}

// Per-PID roles.
const (
	kindNone uint8 = iota
	kindPAT
	kindPMT
	kindAudio
)

// Continuity check results.
const (
	ccOK uint8 = iota
	ccDup
	ccErr
)

// Continuity state bits, per PID: the last counter in the low nibble.
const (
	ccSeen = 0x10
	ccDupd = 0x20
)

type item struct {
	pes PES
	err error
}

// Demuxer extracts one audio elementary stream from a transport stream. It
// is not safe for concurrent use, except for Stats.
type Demuxer struct {
	rs    *Resync
	opts  Options
	langs []string

	ptsJump, pidTimeout int64

	psi        *psiParser
	onTableFn  func(*astits.DemuxerData)
	onPSIErrFn func(error)
	psiErrs    uint64            // PSI errors so far, to tell whether a parse failed
	lastPSI    map[uint16][]byte // last cleanly parsed one-packet table payload per PID
	psiGen     uint64            // bumped when lastPSI is cleared

	kind [numPIDs]uint8
	cc   [numPIDs]uint8

	patSeen   bool
	programs  []program
	pmts      map[uint16]*pmtInfo
	sel       selection
	verdict   string // last reported selection problem
	probeDone bool
	probeFrom uint64 // packet count at the start of the current probe
	packets   uint64

	pes        pesState
	pending    Reason
	unwrap     unwrapper
	lastPTS    int64
	hasLastPTS bool
	interval   int64

	clk streamClock

	q     []item
	qHead int
	done  error
	stats Stats

	mu   sync.Mutex
	snap Stats
}

// New returns a Demuxer reading from r. It reads nothing until Next.
func New(r io.Reader, opts Options) (*Demuxer, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil reader", ErrInvalidOption)
	}
	langs, err := languageCodes(opts.Language)
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		name string
		v    int64
		max  int64
	}{
		{"MaxPESSize", int64(opts.MaxPESSize), 1 << 30},
		{"ProbePackets", int64(opts.ProbePackets), 1 << 40},
		{"NotTSLimit", int64(opts.NotTSLimit), 1 << 40},
		{"PTSJump", int64(opts.PTSJump), int64(maxDuration)},
		{"PIDTimeout", int64(opts.PIDTimeout), int64(maxDuration)},
	} {
		if c.v < 0 || c.v > c.max {
			return nil, fmt.Errorf("%w: %s %d is out of range [0, %d]", ErrInvalidOption, c.name, c.v, c.max)
		}
	}
	if opts.MaxPESSize == 0 {
		opts.MaxPESSize = DefaultMaxPESSize
	}
	if opts.PTSJump == 0 {
		opts.PTSJump = DefaultPTSJump
	}
	if opts.PIDTimeout == 0 {
		opts.PIDTimeout = DefaultPIDTimeout
	}
	if opts.ProbePackets == 0 {
		opts.ProbePackets = DefaultProbePackets
	}
	if opts.NotTSLimit == 0 {
		opts.NotTSLimit = DefaultNotTSLimit
	}
	d := &Demuxer{
		rs:         NewResync(r),
		opts:       opts,
		langs:      langs,
		ptsJump:    ticks(opts.PTSJump),
		pidTimeout: ticks(opts.PIDTimeout),
		psi:        newPSIParser(),
		pmts:       make(map[uint16]*pmtInfo),
		lastPSI:    make(map[uint16][]byte),
	}
	d.rs.notTSLimit = opts.NotTSLimit
	d.clk.lastPMT = make(map[uint16]int64)
	d.kind[pidPAT] = kindPAT
	d.onTableFn = d.onTable
	d.onPSIErrFn = d.onPSIError
	return d, nil
}

// ticks converts a duration to 90 kHz ticks.
func ticks(t time.Duration) int64 { return int64(t) * 9 / 100000 }

// Next returns the next audio PES of the selected stream.
//
// At the end of input it returns io.EOF. ErrNotTS (wrapped), a read error
// and io.EOF end the stream: every later call returns the same error.
// Errors wrapping ErrNoAudio, ErrUnsupportedCodec or ErrProgramNotFound are
// reports: the Demuxer keeps going, and a later call may return audio once a
// PAT or PMT update provides it. Each such report is returned once. A
// cancelled ctx is checked between packets; a blocked read of the
// underlying reader is not interrupted (close the reader for that).
func (d *Demuxer) Next(ctx context.Context) (PES, error) {
	defer d.publish()
	for n := 0; ; n++ {
		if d.qHead < len(d.q) {
			it := d.q[d.qHead]
			d.q[d.qHead] = item{}
			d.qHead++
			if d.qHead == len(d.q) {
				d.q, d.qHead = d.q[:0], 0
			}
			return it.pes, it.err
		}
		if d.done != nil {
			return PES{}, d.done
		}
		if n&0xFF == 0 {
			if err := ctx.Err(); err != nil {
				return PES{}, err
			}
		}
		pkt, err := d.rs.NextPacket()
		if err != nil {
			d.finish(err)
			continue
		}
		d.handle(pkt)
		if n&0x3FF == 0x3FF {
			d.publish()
		}
	}
}

// Stats returns a snapshot of the counters. It is safe to call from any
// goroutine; the snapshot is refreshed every 1024 packets and whenever Next
// returns.
func (d *Demuxer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.snap
}

func (d *Demuxer) publish() {
	s := d.stats
	rs := d.rs.Stats()
	s.BytesRead = rs.BytesRead
	s.Packets = rs.Packets
	s.BytesSkipped = rs.BytesSkipped
	s.TailBytes = rs.TailBytes
	s.PacketStride = rs.PacketStride
	s.SyncLoss = rs.SyncLosses
	s.SyncByteError = rs.SyncByteErrors
	d.mu.Lock()
	d.snap = s
	d.mu.Unlock()
}

// finish handles the end of the packet stream.
func (d *Demuxer) finish(err error) {
	if !errors.Is(err, io.EOF) {
		d.done = err
		return
	}
	d.finishPES()
	if !d.probeDone {
		d.endProbe()
	}
	if d.sel.valid && d.stats.PESDelivered == 0 {
		d.report(fmt.Errorf("%w: audio PID 0x%04x (%s) of program %d delivered no PES (%d scrambled packets, %d PES dropped, %d corrupt)",
			ErrNoAudio, d.sel.es.pid, d.sel.es.format, d.sel.program,
			d.stats.ScrambledAudioPackets, d.stats.PESDropped, d.stats.PESErrors))
	}
	d.done = io.EOF
}

// endProbe ends the wait for the PAT and the PMTs: from now on a missing
// table is reported instead of waited for.
func (d *Demuxer) endProbe() {
	d.probeDone = true
	if d.sel.valid {
		return
	}
	if !d.patSeen {
		d.report(fmt.Errorf("%w: no PAT in the first %d packets", ErrNoAudio, d.packets))
		return
	}
	d.reevaluate()
}

// handle processes one aligned packet.
func (d *Demuxer) handle(pkt []byte) {
	if d.opts.OnPacket != nil {
		d.opts.OnPacket(pkt)
	}
	d.packets++
	if !d.probeDone && d.packets-d.probeFrom >= uint64(d.opts.ProbePackets) {
		d.endProbe()
	}
	if pkt[1]&0x80 != 0 {
		d.stats.TransportError++
		return
	}
	h, ok := parseHeader(pkt)
	if !ok {
		d.stats.MalformedPackets++
		return
	}
	if h.pid == pidNull {
		d.stats.NullPackets++
		return
	}
	if h.tsc != 0 {
		d.stats.ScrambledPackets++
	}
	cc := d.checkCC(&h)
	if h.hasPCR {
		d.onPCR(&h)
	}
	if h.discontinuity && d.sel.valid && h.pid == d.sel.pcrPID && h.pid != d.sel.es.pid {
		d.pending |= ReasonIndicator
	}
	switch d.kind[h.pid] {
	case kindPAT:
		d.onPSI(&h, pkt, true)
	case kindPMT:
		d.onPSI(&h, pkt, false)
	case kindAudio:
		d.onAudio(&h, cc)
	}
}

// checkCC applies the continuity_counter rules of ISO/IEC 13818-1 §2.4.3.3:
// the counter increments on packets with payload, repeats on packets
// without, one duplicate is legal, and discontinuity_indicator resets it.
func (d *Demuxer) checkCC(h *header) uint8 {
	st := d.cc[h.pid]
	if h.discontinuity || st&ccSeen == 0 {
		d.cc[h.pid] = ccSeen | h.cc
		return ccOK
	}
	last := st & 0x0F
	if !h.hasPayload {
		if h.cc != last {
			d.stats.ContinuityError++
			d.cc[h.pid] = ccSeen | h.cc
			return ccErr
		}
		return ccOK
	}
	switch h.cc {
	case (last + 1) & 0x0F:
		d.cc[h.pid] = ccSeen | h.cc
		return ccOK
	case last:
		if st&ccDupd == 0 {
			d.cc[h.pid] = st | ccDupd
			return ccDup
		}
		d.stats.ContinuityError++
		return ccErr
	}
	d.stats.ContinuityError++
	d.cc[h.pid] = ccSeen | h.cc
	return ccErr
}
