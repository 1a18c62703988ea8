package mpegts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
	// reported). 0 means DefaultProbePackets.
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

type program struct{ number, pmtPID uint16 }

type pmtInfo struct {
	pmtPID, pcrPID uint16
	streams        []esInfo
}

func (p *pmtInfo) equal(o *pmtInfo) bool {
	if p.pmtPID != o.pmtPID || p.pcrPID != o.pcrPID || len(p.streams) != len(o.streams) {
		return false
	}
	for i := range p.streams {
		if !p.streams[i].equal(o.streams[i]) {
			return false
		}
	}
	return true
}

type selection struct {
	valid                   bool
	program, pmtPID, pcrPID uint16
	es                      esInfo
}

type pesState struct {
	buf      []byte
	active   bool
	lenKnown bool
	want     int // total PES size when PES_packet_length != 0
	reasons  Reason
}

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
	if !d.probeDone && d.packets >= uint64(d.opts.ProbePackets) {
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

// onPSI handles a packet on PID 0 or on a PMT PID.
func (d *Demuxer) onPSI(h *header, pkt []byte, isPAT bool) {
	if h.tsc != 0 {
		if isPAT {
			d.stats.PATError++
		} else {
			d.stats.PMTError++
		}
		return
	}
	if h.pusi && len(h.payload) > 0 {
		if ptr := int(h.payload[0]); 1+ptr < len(h.payload) {
			tid := h.payload[1+ptr]
			switch {
			case isPAT && tid != 0x00:
				d.stats.PATError++
			case isPAT:
				d.clk.lastPAT = d.clk.now
			case tid == 0x02:
				if _, ok := d.clk.lastPMT[h.pid]; ok {
					d.clk.lastPMT[h.pid] = d.clk.now
				}
			}
		}
	}
	// Tables repeat unchanged every 100 ms or so. A one-packet repetition
	// identical to the last clean parse is skipped: go-astits allocates a
	// lot per table.
	whole := h.pusi && sectionsComplete(h.payload)
	if whole {
		if prev, ok := d.lastPSI[h.pid]; ok && bytes.Equal(prev, h.payload) {
			return
		}
	}
	errs, gen := d.psiErrs, d.psiGen
	d.psi.parse(pkt, d.onTableFn, d.onPSIErrFn)
	switch {
	case d.psiGen != gen:
		// The PAT changed while parsing: the cache was cleared.
	case whole && d.psiErrs == errs:
		d.lastPSI[h.pid] = append(d.lastPSI[h.pid][:0], h.payload...)
	default:
		delete(d.lastPSI, h.pid)
	}
}

// sectionsComplete reports whether a payload that starts a table holds only
// whole sections (pointer_field 0, nothing continued in the next packet).
func sectionsComplete(p []byte) bool {
	if len(p) < 1 || p[0] != 0 {
		return false
	}
	off := 1
	for off < len(p) && p[off] != 0xFF {
		if off+3 > len(p) {
			return false
		}
		off += 3 + ((int(p[off+1])&0x0F)<<8 | int(p[off+2]))
	}
	return off <= len(p)
}

func (d *Demuxer) onPSIError(err error) {
	d.psiErrs++
	switch {
	case errors.Is(err, errParserPanic):
		d.stats.ParserPanics++
		d.clearPSICache()
	case isCRCError(err):
		d.stats.CRCError++
	default:
		d.stats.PSIErrors++
	}
}

func (d *Demuxer) onTable(data *astits.DemuxerData) {
	switch {
	case data.PAT != nil && data.PID == pidPAT:
		d.onPAT(data.PAT)
	case data.PMT != nil && data.PID != pidPAT:
		d.onPMT(data.PID, data.PMT)
	}
}

func (d *Demuxer) onPAT(pat *astits.PATData) {
	progs := make([]program, 0, len(pat.Programs))
	for _, p := range pat.Programs {
		if p == nil || p.ProgramNumber == 0 || p.ProgramMapID < pidFirstUser || p.ProgramMapID >= pidNull {
			continue
		}
		dup := false
		for _, q := range progs {
			dup = dup || q.number == p.ProgramNumber
		}
		if !dup {
			progs = append(progs, program{number: p.ProgramNumber, pmtPID: p.ProgramMapID})
		}
	}
	first := !d.patSeen
	d.patSeen = true
	if !first && equalPrograms(progs, d.programs) {
		return
	}
	for _, p := range d.programs {
		if d.kind[p.pmtPID] == kindPMT {
			d.kind[p.pmtPID] = kindNone
		}
	}
	seen := make(map[uint16]int64, len(progs))
	for _, p := range progs {
		if d.kind[p.pmtPID] == kindAudio {
			d.deselect() // the audio PID became a PMT PID
		}
		d.kind[p.pmtPID] = kindPMT
		t, ok := d.clk.lastPMT[p.pmtPID]
		if !ok {
			t = d.clk.now
		}
		seen[p.pmtPID] = t
	}
	d.clk.lastPMT = seen
	for num, info := range d.pmts {
		keep := false
		for _, p := range progs {
			keep = keep || (p.number == num && p.pmtPID == info.pmtPID)
		}
		if !keep {
			delete(d.pmts, num)
		}
	}
	d.programs = progs
	d.clearPSICache()
	if d.sel.valid {
		if _, ok := d.pmts[d.sel.program]; !ok {
			d.deselect() // the program went away or moved its PMT
		}
	}
	d.reevaluate()
}

// clearPSICache forgets the cached tables, so the next repetition of each is
// parsed again (after a PAT change or a parser reset).
func (d *Demuxer) clearPSICache() {
	clear(d.lastPSI)
	d.psiGen++
}

func equalPrograms(a, b []program) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (d *Demuxer) onPMT(pid uint16, pmt *astits.PMTData) {
	listed := false
	for _, p := range d.programs {
		listed = listed || (p.number == pmt.ProgramNumber && p.pmtPID == pid)
	}
	if !listed {
		return
	}
	info := &pmtInfo{pmtPID: pid, pcrPID: pmt.PCRPID}
	for _, es := range pmt.ElementaryStreams {
		if es == nil || es.ElementaryPID < pidFirstUser || es.ElementaryPID >= pidNull {
			continue
		}
		info.streams = append(info.streams, classify(es))
	}
	if old, ok := d.pmts[pmt.ProgramNumber]; ok && old.equal(info) {
		return
	}
	d.pmts[pmt.ProgramNumber] = info
	d.reevaluate()
}

// reevaluate picks the program and audio stream from the tables known so far.
func (d *Demuxer) reevaluate() {
	if !d.patSeen {
		return
	}
	var cands []program
	if d.opts.Program != 0 {
		var p program
		found := false
		for _, q := range d.programs {
			if q.number == d.opts.Program {
				p, found = q, true
			}
		}
		if !found {
			nums := make([]string, len(d.programs))
			for i, q := range d.programs {
				nums[i] = fmt.Sprint(q.number)
			}
			d.fail(fmt.Errorf("%w: program %d is not in the PAT (programs: %s)", ErrProgramNotFound, d.opts.Program, strings.Join(nums, ", ")))
			return
		}
		if _, ok := d.pmts[p.number]; !ok {
			if d.probeDone {
				d.fail(fmt.Errorf("%w: no PMT for program %d on PID 0x%04x", ErrNoAudio, p.number, p.pmtPID))
			}
			return
		}
		cands = []program{p}
	} else {
		if !d.sel.valid && !d.probeDone {
			for _, p := range d.programs {
				if _, ok := d.pmts[p.number]; !ok {
					return // wait for every PMT before choosing a program
				}
			}
		}
		cands = make([]program, 0, len(d.programs))
		for _, p := range d.programs {
			if d.sel.valid && p.number == d.sel.program {
				cands = append([]program{p}, cands...) // keep the current program if it still has audio
			} else {
				cands = append(cands, p)
			}
		}
	}
	var unsupported *StreamError
	for _, p := range cands {
		info, ok := d.pmts[p.number]
		if !ok {
			continue
		}
		es, found, supported := chooseAudio(info.streams, d.langs)
		if supported {
			d.selectStream(p, info, es)
			return
		}
		if found && unsupported == nil {
			unsupported = &StreamError{Program: p.number, PID: es.pid, StreamType: es.streamType, Format: es.format, Err: ErrUnsupportedCodec}
		}
	}
	if unsupported != nil {
		d.fail(unsupported)
		return
	}
	d.fail(fmt.Errorf("%w: %s", ErrNoAudio, d.describePrograms(cands)))
}

// describePrograms lists the programs and their streams for error messages.
func (d *Demuxer) describePrograms(progs []program) string {
	if len(progs) == 0 {
		return "the PAT lists no programs"
	}
	var b strings.Builder
	for i, p := range progs {
		if i == 8 {
			fmt.Fprintf(&b, "; and %d more programs", len(progs)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "program %d (PMT PID 0x%04x)", p.number, p.pmtPID)
		info, ok := d.pmts[p.number]
		if !ok {
			b.WriteString(": no PMT seen")
			continue
		}
		if len(info.streams) == 0 {
			b.WriteString(": no streams")
			continue
		}
		b.WriteString(":")
		for j, es := range info.streams {
			if j == 8 {
				fmt.Fprintf(&b, " and %d more", len(info.streams)-j)
				break
			}
			fmt.Fprintf(&b, " 0x%04x %s (0x%02x)", es.pid, es.format, es.streamType)
		}
	}
	return b.String()
}

// selectStream makes es the selected audio stream.
func (d *Demuxer) selectStream(p program, info *pmtInfo, es esInfo) {
	d.verdict = ""
	if d.sel.valid && d.sel.program == p.number && d.sel.es.pid == es.pid && d.sel.es.codec == es.codec {
		d.sel.es, d.sel.pmtPID, d.sel.pcrPID = es, p.pmtPID, info.pcrPID
		return
	}
	d.deselect()
	d.sel = selection{valid: true, program: p.number, pmtPID: p.pmtPID, pcrPID: info.pcrPID, es: es}
	if d.kind[es.pid] == kindNone {
		d.kind[es.pid] = kindAudio
	}
	d.clk.lastAudio = d.clk.now
}

// deselect abandons the current selection, if any.
func (d *Demuxer) deselect() {
	if !d.sel.valid {
		return
	}
	d.dropPES(ReasonStreamChange)
	if d.kind[d.sel.es.pid] == kindAudio {
		d.kind[d.sel.es.pid] = kindNone
	}
	d.sel.valid = false
	d.interval = 0
	d.stats.StreamChanges++
}

// fail drops the selection and reports err.
func (d *Demuxer) fail(err error) {
	d.deselect()
	d.report(err)
}

// report queues err for Next unless it repeats the previous report.
func (d *Demuxer) report(err error) {
	msg := err.Error()
	if msg == d.verdict {
		return
	}
	d.verdict = msg
	d.q = append(d.q, item{err: err})
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
