package tsmux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/teletext"
)

// Errors. WritePacket and Close return the fatal ones (ErrPacket,
// ErrPIDClash, ErrClosed, writer errors); the others are reported through
// Options.OnWarning as they happen, and ErrNoPMT and ErrNoPCR also by Close.
var (
	// ErrPacket: the slice given to WritePacket is not a 188-byte packet
	// starting with 0x47. The packet is not written; the mux goes on.
	ErrPacket = errors.New("tsmux: not a 188-byte TS packet")
	// ErrPIDClash: the configured teletext PID is used by the input.
	ErrPIDClash = errors.New("tsmux: teletext PID used by the input")
	// ErrClosed: the mux was closed.
	ErrClosed = errors.New("tsmux: closed")
	// ErrNoPMT: no PMT for the selected program within ProbeBytes; the
	// stream passes through unchanged until one appears.
	ErrNoPMT = errors.New("tsmux: no PMT for the program")
	// ErrNoPCR: the program has a PMT but no PCR within ProbeBytes, so no
	// caption can be timed; the stream passes through with the new PMT.
	ErrNoPCR = errors.New("tsmux: no PCR for the program")
	// ErrPIDMoved: the automatically chosen teletext PID appeared in the
	// input; the teletext moved to a free PID with a new PMT version.
	ErrPIDMoved = errors.New("tsmux: teletext PID moved")
	// ErrLateCue: a cue reached the mux after its start time had left the
	// delay line (or, in live mode, never); it is shown now instead.
	ErrLateCue = errors.New("tsmux: cue late")
	// ErrCueDropped: a cue was dropped: the queue was full, or the stream
	// ended before the cue's time.
	ErrCueDropped = errors.New("tsmux: cue dropped")
	// ErrDelayOverflow: the delay line reached MaxDelayBytes; the oldest
	// packets left early, so the output is less than Delay behind.
	ErrDelayOverflow = errors.New("tsmux: delay line full")
	// ErrBadPMT: a PMT section of the program failed its CRC or syntax
	// check and was dropped (the previous one is repeated).
	ErrBadPMT = errors.New("tsmux: bad PMT section")
)

// Sync selects how cues are placed in time.
type Sync int

const (
	// SyncLive inserts each cue as soon as it arrives, with a PTS just
	// after the current output time (PCR + Lead). The output is not
	// delayed; captions are late by the recognition latency.
	SyncLive Sync = iota
	// SyncDelay holds the whole stream for Delay in a delay line, so that
	// each cue is inserted where the PCR reaches its start time (its PTS is
	// the media time of its first word). The output is exactly Delay (of
	// stream time) behind the input.
	SyncDelay
)

func (s Sync) String() string {
	switch s {
	case SyncLive:
		return "live"
	case SyncDelay:
		return "delay"
	}
	return fmt.Sprintf("Sync(%d)", int(s))
}

// ParseSync reads a sync mode as written in the configuration: "live" or
// "delay".
func ParseSync(s string) (Sync, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "live", "":
		return SyncLive, nil
	case "delay":
		return SyncDelay, nil
	}
	return 0, fmt.Errorf("tsmux: unknown sync mode %q (want live or delay)", s)
}

// CueTimes says how MuxCaptions reads cue times.
type CueTimes int

const (
	// CueTimesRelative: cue times count from the input's first PTS (the
	// smallest PTS of the program's first PES packets), as in an SRT or
	// WebVTT file made for the stream.
	CueTimesRelative CueTimes = iota
	// CueTimesAbsolute: cue times are PTS values (90 kHz, taken modulo
	// 2^33), as the recognizer produces them.
	CueTimesAbsolute
)

// Defaults.
const (
	DefaultLead          = 120 * time.Millisecond
	DefaultPMTInterval   = 400 * time.Millisecond
	DefaultProbeBytes    = 4 << 20
	DefaultMaxDelayBytes = 64 << 20
	DefaultMaxPending    = 64
	// DefaultDuration is the display time of a cue whose End is not after
	// its Start.
	DefaultDuration = 2 * time.Second
	// MaxDuration caps a cue's display time in the live and delay modes
	// (MuxCaptions does not cap it).
	MaxDuration = 60 * time.Second
)

// Options configure a Mux. The zero value is live mode on the first
// program, an automatically chosen PID, and English subtitles on page 888.
type Options struct {
	// Program is the program_number to caption; 0 picks the first program
	// of the PAT.
	Program uint16
	// PID is the teletext PID (0x0010–0x1FFE). 0 picks a free one: the
	// first PID after the program's highest ES PID that neither the PAT,
	// the PMT nor any packet so far uses. If the input later uses the
	// chosen PID, the teletext moves (ErrPIDMoved). A configured PID that
	// the input uses is fatal (ErrPIDClash).
	PID uint16
	// Teletext sets the page (888 by default) and the language, which
	// selects the character set and goes into the teletext_descriptor.
	Teletext teletext.Options
	// HearingImpaired signals teletext_type 0x05 (subtitles for the hard of
	// hearing) instead of 0x02.
	HearingImpaired bool
	// Sync is SyncLive or SyncDelay.
	Sync Sync
	// Delay is the length of the delay line in SyncDelay mode.
	Delay time.Duration
	// MaxDelayBytes caps the delay line's memory (0: DefaultMaxDelayBytes).
	// Delay × bitrate must fit; beyond it packets leave early
	// (ErrDelayOverflow).
	MaxDelayBytes int
	// Lead bounds how far a caption's PTS is ahead of the PCR before it
	// (0: DefaultLead). Caption PES go in right after a packet carrying a
	// PCR of the program: the first PCR ≥ PTS − Lead, so PTS − PCR lies in
	// (Lead − PCR interval, Lead]. Live cues get PTS = PCR + Lead. With the
	// default and PCRs at most 80 ms apart (DVB asks for 40 ms) that is
	// 40–120 ms; ffmpeg takes a teletext PTS as is within 0–140.6 ms of the
	// last PCR and clamps it otherwise.
	Lead time.Duration
	// PMTInterval is the longest gap between PMTs of the program in the
	// output; the rewritten PMT is repeated when the input's are sparser
	// (0: DefaultPMTInterval).
	PMTInterval time.Duration
	// ProbeBytes bounds the wait for the PMT and the first PCR before
	// ErrNoPMT or ErrNoPCR is reported (0: DefaultProbeBytes).
	ProbeBytes int64
	// MaxPending bounds the cues waiting to be scheduled (0:
	// DefaultMaxPending). AddCue drops the oldest beyond it.
	MaxPending int
	// CueTimes is used by MuxCaptions only.
	CueTimes CueTimes
	// OnWarning, if set, receives the non-fatal conditions (see the
	// errors). It runs on the goroutine that called WritePacket, AddCue or
	// Close and must not call the Mux.
	OnWarning func(error)
}

// Stats are the mux's counters.
type Stats struct {
	PacketsIn, PacketsOut uint64
	// PID is the current teletext PID, 0 before the PMT is known.
	PID uint16
	// PMTVersion is the version_number of the rewritten PMT, -1 before.
	PMTVersion                  int
	PMTsRewritten, PMTsRepeated uint64
	PIDMoves                    uint64
	CuesShown, PagesCleared     uint64
	CuesLate, CuesDropped       uint64
	DelayOverflows              uint64
	// Buffered is the number of bytes in the delay line.
	Buffered int64
}

type stats struct {
	packetsIn, packetsOut       atomic.Uint64
	pid                         atomic.Uint32
	pmtVersion                  atomic.Int32
	pmtsRewritten, pmtsRepeated atomic.Uint64
	pidMoves                    atomic.Uint64
	cuesShown, pagesCleared     atomic.Uint64
	cuesLate, cuesDropped       atomic.Uint64
	delayOverflows              atomic.Uint64
	buffered                    atomic.Int64
}

// meta travels with each packet through the delay line.
type meta struct {
	clk      int64 // PCR time in 90 kHz ticks, -1 when unknown
	st       int64 // stream time, 27 MHz
	pcr      bool  // the packet carried (or replaces one that carried) a PCR of the program
	pos      int64 // input byte position (of the packet it came with, for generated ones)
	announce int32 // on the first packet of a rewritten PMT: the teletext PID it lists (0: none); else -1
}

// event is a page change waiting for its time.
type event struct {
	pts   int64 // 33-bit
	show  bool
	lines []string
	cue   uint64 // sequence number of the cue
}

// Mux adds a teletext subtitle PID to a transport stream. WritePacket and
// Close must be called from one goroutine; AddCue and Stats from any.
type Mux struct {
	w       io.Writer
	opts    Options
	enc     *teletext.Encoder
	desc    []byte
	lead    int64 // 90 kHz
	delay   int64 // 27 MHz
	pmtIvl  int64 // 27 MHz
	maxBuf  int
	offline bool

	// Input stage.
	err        error
	closed     bool
	inBytes    int64
	seen       [8192 / 64]uint64
	patAsm     *sectionAssembler
	patPIDs    map[uint16]bool
	program    uint16
	pmtPID     uint16 // 0 until known
	pmtAsm     *sectionAssembler
	pmtIn      []byte // last PMT section of the program from the input
	pmtOut     []byte // its rewrite
	info       pmtInfo
	outVersion int
	pmtCC      uint8
	ttxPID     uint16
	ttxOff     bool // the PMT had no room: no teletext
	pcrPID     uint16
	clk        clock
	lastPMT    int64 // stream time of the last PMT out
	pmtTimed   bool
	warnedPMT  bool
	warnedPCR  bool
	warnedBad  bool
	gen        []byte // generated packets of the current step
	cur        meta

	// Delay line.
	ring       ring
	overflowed bool
	pcrSt      int64 // stream time of the last PCR pushed
	pcrPos     int64 // its input position, -1 before

	// Output stage.
	outClk    int64
	outValid  bool
	outPID    uint16
	ttxCC     uint8
	events    []event
	showing   bool
	cueSeq    uint64
	lastClear int64
	out       []byte

	mu       sync.Mutex
	incoming []captions.Cue
	pending  atomic.Bool
	st       stats
}

// New returns a Mux writing to w. Wrap w in a bufio.Writer for throughput;
// the Mux writes one packet per Write call.
func New(w io.Writer, opts Options) (*Mux, error) {
	enc, err := teletext.NewEncoder(opts.Teletext)
	if err != nil {
		return nil, err
	}
	if opts.PID != 0 && (opts.PID < 0x10 || opts.PID > 0x1FFE) {
		return nil, fmt.Errorf("tsmux: teletext PID %#x outside 0x0010–0x1FFE", opts.PID)
	}
	if opts.Sync != SyncLive && opts.Sync != SyncDelay {
		return nil, fmt.Errorf("tsmux: unknown sync mode %d", opts.Sync)
	}
	if opts.Delay < 0 || (opts.Sync == SyncLive && opts.Delay != 0) {
		return nil, fmt.Errorf("tsmux: delay %v needs sync mode delay", opts.Delay)
	}
	if opts.Lead <= 0 {
		opts.Lead = DefaultLead
	}
	if opts.PMTInterval <= 0 {
		opts.PMTInterval = DefaultPMTInterval
	}
	if opts.ProbeBytes <= 0 {
		opts.ProbeBytes = DefaultProbeBytes
	}
	if opts.MaxDelayBytes <= 0 {
		opts.MaxDelayBytes = DefaultMaxDelayBytes
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	ttxType := byte(0x02)
	if opts.HearingImpaired {
		ttxType = 0x05
	}
	m := &Mux{
		w:          w,
		opts:       opts,
		enc:        enc,
		desc:       teletextDescriptor(enc.Language(), ttxType, enc.Magazine(), enc.PageBCD()),
		lead:       durTicks(opts.Lead),
		delay:      int64(opts.Delay) * pcrHz / int64(time.Second),
		pmtIvl:     int64(opts.PMTInterval) * pcrHz / int64(time.Second),
		maxBuf:     opts.MaxDelayBytes / tsSize,
		patAsm:     newSectionAssembler(),
		pcrPos:     -1,
		patPIDs:    map[uint16]bool{},
		outVersion: -1,
		pcrPID:     nullPID,
		cur:        meta{clk: -1, announce: -1},
	}
	m.ring.limit = max(m.maxBuf, 1)
	m.st.pmtVersion.Store(-1)
	return m, nil
}

func durTicks(d time.Duration) int64 { return int64(d) * 90000 / int64(time.Second) }

// Encoder returns the teletext encoder (page and language).
func (m *Mux) Encoder() *teletext.Encoder { return m.enc }

// Stats returns the counters.
func (m *Mux) Stats() Stats {
	s := &m.st
	return Stats{
		PacketsIn: s.packetsIn.Load(), PacketsOut: s.packetsOut.Load(),
		PID: uint16(s.pid.Load()), PMTVersion: int(s.pmtVersion.Load()),
		PMTsRewritten: s.pmtsRewritten.Load(), PMTsRepeated: s.pmtsRepeated.Load(),
		PIDMoves:  s.pidMoves.Load(),
		CuesShown: s.cuesShown.Load(), PagesCleared: s.pagesCleared.Load(),
		CuesLate: s.cuesLate.Load(), CuesDropped: s.cuesDropped.Load(),
		DelayOverflows: s.delayOverflows.Load(),
		Buffered:       s.buffered.Load(),
	}
}

func (m *Mux) warn(err error) {
	if m.opts.OnWarning != nil {
		m.opts.OnWarning(err)
	}
}

// AddCue queues a cue for insertion. It never blocks. Cue times are the
// media time of the words (90 kHz PTS) in SyncDelay mode; SyncLive uses only
// the duration. A cue without text clears the page. When MaxPending cues
// wait already, the oldest is dropped (ErrCueDropped).
func (m *Mux) AddCue(c captions.Cue) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	var dropped *captions.Cue
	if !m.offline && len(m.incoming) >= m.opts.MaxPending {
		d := m.incoming[0]
		dropped = &d
		m.incoming = append(m.incoming[:0], m.incoming[1:]...)
	}
	m.incoming = append(m.incoming, c)
	m.pending.Store(true)
	m.mu.Unlock()
	if dropped != nil {
		m.st.cuesDropped.Add(1)
		m.warn(fmt.Errorf("%w: queue full, cue %d", ErrCueDropped, dropped.ID))
	}
	return nil
}

// WritePacket takes one 188-byte input packet. The packet goes out
// unchanged (after the delay, in SyncDelay mode), except the packets of the
// program's PMT, which are replaced by the rewritten PMT. Captions are
// inserted around it. A fatal error is sticky.
func (m *Mux) WritePacket(pkt []byte) error {
	if m.err != nil {
		return m.err
	}
	if m.closed {
		return ErrClosed
	}
	if len(pkt) != tsSize || pkt[0] != 0x47 {
		return fmt.Errorf("%w (%d bytes)", ErrPacket, len(pkt))
	}
	m.st.packetsIn.Add(1)
	m.inBytes += tsSize
	pid := uint16(pkt[1]&0x1F)<<8 | uint16(pkt[2])
	tei := pkt[1]&0x80 != 0
	m.seen[pid>>6] |= 1 << (pid & 63)

	// Clock.
	hasPCR := false
	if pid == m.pcrPID && !tei && pkt[3]&0x20 != 0 && pkt[4] >= 7 && pkt[5]&0x10 != 0 {
		pcr := (int64(pkt[6])<<25|int64(pkt[7])<<17|int64(pkt[8])<<9|int64(pkt[9])<<1|int64(pkt[10]>>7))*ticksPerPCR +
			(int64(pkt[10]&1)<<8 | int64(pkt[11]))
		m.clk.onPCR(pcr, pkt[5]&0x80 != 0)
		hasPCR = true
	}
	m.cur = meta{clk: -1, announce: -1, pcr: hasPCR, pos: m.inBytes}
	if m.clk.valid {
		pcr, st := m.clk.now()
		m.cur.clk, m.cur.st = pcr/ticksPerPCR, st
	}
	m.clk.advance(tsSize)

	if pid == m.ttxPID && m.ttxPID != 0 {
		if err := m.clash(pid); err != nil {
			m.err = err
			return err
		}
	}

	switch {
	case pid == 0 && !tei:
		m.onPATPacket(pkt)
		m.push(pkt, m.cur)
	case pid == m.pmtPID && m.pmtPID != 0:
		m.onPMTPacket(pkt, tei)
	default:
		m.push(pkt, m.cur)
	}

	// Repeat the PMT when the input's are sparse. Only at PCRs, where the
	// stream time is exact.
	if m.pmtOut != nil && hasPCR && (!m.pmtTimed || m.clk.st-m.lastPMT >= m.pmtIvl) {
		m.emitPMT()
		m.st.pmtsRepeated.Add(1)
	}
	if m.inBytes > m.opts.ProbeBytes {
		if m.pmtOut == nil && !m.warnedPMT {
			m.warnedPMT = true
			m.warn(m.noPMTError())
		} else if m.pmtOut != nil && !m.clk.valid && !m.warnedPCR {
			m.warnedPCR = true
			m.warn(fmt.Errorf("%w: PCR PID %#x", ErrNoPCR, m.pcrPID))
		}
	}
	return m.err
}

func (m *Mux) noPMTError() error {
	switch {
	case m.pmtPID == 0 && m.opts.Program != 0:
		return fmt.Errorf("%w: program %d not in a PAT after %d bytes", ErrNoPMT, m.opts.Program, m.inBytes)
	case m.pmtPID == 0:
		return fmt.Errorf("%w: no PAT with a program after %d bytes", ErrNoPMT, m.inBytes)
	}
	return fmt.Errorf("%w: program %d, PID %#x, none valid after %d bytes", ErrNoPMT, m.program, m.pmtPID, m.inBytes)
}

func (m *Mux) pidUsed(pid uint16) bool { return m.seen[pid>>6]&(1<<(pid&63)) != 0 }

// clash handles an input packet on the teletext PID.
func (m *Mux) clash(pid uint16) error {
	if m.opts.PID != 0 {
		return fmt.Errorf("%w: PID %#x (configured)", ErrPIDClash, pid)
	}
	old := m.ttxPID
	m.ttxPID = m.choosePID()
	m.st.pidMoves.Add(1)
	m.warn(fmt.Errorf("%w: %#x → %#x", ErrPIDMoved, old, m.ttxPID))
	if m.pmtIn != nil {
		m.rewrite()
		m.emitPMT()
	}
	return nil
}

// reserved reports whether the PMT, PAT or PCR use pid.
func (m *Mux) reserved(pid uint16) bool {
	if pid < 0x10 || pid >= nullPID || pid == m.pmtPID || pid == m.info.pcrPID || m.patPIDs[pid] {
		return true
	}
	for _, e := range m.info.streams {
		if e.pid == pid {
			return true
		}
	}
	return false
}

// choosePID returns the configured PID or a free one.
func (m *Mux) choosePID() uint16 {
	if m.opts.PID != 0 {
		return m.opts.PID
	}
	start := uint16(0x20)
	for _, e := range m.info.streams {
		if e.pid >= start && e.pid < nullPID-1 {
			start = e.pid + 1
		}
	}
	pid := start
	for range nullPID {
		if !m.reserved(pid) && !m.pidUsed(pid) {
			return pid
		}
		pid++
		if pid >= nullPID {
			pid = 0x20
		}
	}
	return start // every PID is taken; nothing better exists
}

func (m *Mux) onPATPacket(pkt []byte) {
	payload, pusi, cc, ok := payloadOf(pkt)
	if !ok {
		return
	}
	m.patAsm.push(payload, pusi, cc, func(s []byte) {
		progs, err := parsePAT(s)
		if err != nil || s[5]&1 == 0 {
			return
		}
		clear(m.patPIDs)
		var sel patEntry
		for _, p := range progs {
			m.patPIDs[p.pid] = true
			if sel.pid == 0 && (m.opts.Program == 0 || p.program == m.opts.Program) {
				sel = p
			}
		}
		if sel.pid == m.pmtPID && sel.program == m.program {
			return
		}
		// A new program or PMT PID: start over with its PMT.
		m.program, m.pmtPID = sel.program, sel.pid
		m.pmtAsm = newSectionAssembler()
		m.pmtIn, m.pmtOut, m.info = nil, nil, pmtInfo{}
		m.pmtTimed = false
	})
}

// payloadOf returns the payload of a packet, its PUSI flag and CC.
func payloadOf(pkt []byte) (payload []byte, pusi bool, cc uint8, ok bool) {
	afc := pkt[3] >> 4 & 3
	o := 4
	if afc&2 != 0 {
		o += 1 + int(pkt[4])
	}
	if afc&1 == 0 || o >= tsSize {
		return nil, false, 0, false
	}
	return pkt[o:], pkt[1]&0x40 != 0, pkt[3] & 0xF, true
}

func (m *Mux) onPMTPacket(pkt []byte, tei bool) {
	if tei {
		m.pmtAsm.reset()
		return
	}
	// Keep an adaptation field with content (a PCR, a discontinuity) as
	// an adaptation-field-only packet.
	if pkt[3]&0x20 != 0 && pkt[4] > 0 && int(pkt[4]) <= tsSize-5 && pkt[5] != 0 {
		var p [tsSize]byte
		copy(p[:], pkt[:5+int(pkt[4])])
		p[1] &^= 0x40
		p[3] = 0x20 | (m.pmtCC-1)&0xF
		p[4] = tsSize - 5
		for i := 5 + int(pkt[4]); i < tsSize; i++ {
			p[i] = 0xFF
		}
		m.push(p[:], m.cur)
	}
	payload, pusi, cc, ok := payloadOf(pkt)
	if !ok {
		return
	}
	m.pmtAsm.push(payload, pusi, cc, m.onPMTSection)
}

func (m *Mux) onPMTSection(s []byte) {
	ours := len(s) >= 8 && s[0] == 0x02 && uint16(s[3])<<8|uint16(s[4]) == m.program && s[5]&1 == 1
	if !ours {
		// Another program's or a not-yet-current PMT: as it was.
		m.gen = packetizeSection(m.gen[:0], s, m.pmtPID, &m.pmtCC)
		m.pushGen(-1)
		return
	}
	if m.pmtIn != nil && bytes.Equal(s, m.pmtIn) {
		m.emitPMT()
		return
	}
	info, err := parsePMT(s)
	if err != nil {
		if !m.warnedBad { // once until a good one comes
			m.warnedBad = true
			m.warn(fmt.Errorf("%w: program %d: %w", ErrBadPMT, m.program, err))
		}
		return
	}
	m.warnedBad = false
	if m.info.pcrPID != info.pcrPID {
		m.clk.breakNext() // a new PCR PID: its first PCR is a discontinuity
	}
	m.pmtIn = append([]byte(nil), s...)
	m.info = info
	m.pcrPID = info.pcrPID
	if m.ttxPID == 0 || m.reserved(m.ttxPID) {
		if m.ttxPID != 0 {
			if m.opts.PID != 0 {
				m.err = fmt.Errorf("%w: PID %#x is in the PMT of program %d", ErrPIDClash, m.ttxPID, m.program)
				return
			}
			m.st.pidMoves.Add(1)
			old := m.ttxPID
			m.ttxPID = m.choosePID()
			m.warn(fmt.Errorf("%w: %#x → %#x (listed in the new PMT)", ErrPIDMoved, old, m.ttxPID))
		} else {
			m.ttxPID = m.choosePID()
			if m.reserved(m.ttxPID) || m.pidUsed(m.ttxPID) {
				m.err = fmt.Errorf("%w: PID %#x", ErrPIDClash, m.ttxPID)
				return
			}
		}
	}
	m.rewrite()
	m.emitPMT()
}

// rewrite builds pmtOut from pmtIn with the next version number.
func (m *Mux) rewrite() {
	v := int(m.info.version+1) % 32
	if m.outVersion >= 0 {
		v = (m.outVersion + 1) % 32
	}
	out, err := rewritePMT(m.pmtIn, m.ttxPID, m.desc, uint8(v))
	if err != nil {
		m.warn(fmt.Errorf("program %d: %w", m.program, err))
		m.pmtOut, m.ttxOff = m.pmtIn, true // keep the program as it is, without captions
		m.st.pid.Store(0)
		return
	}
	m.ttxOff = false
	m.outVersion = v
	m.pmtOut = out
	m.st.pmtsRewritten.Add(1)
	m.st.pmtVersion.Store(int32(v))
	m.st.pid.Store(uint32(m.ttxPID))
}

// emitPMT writes the rewritten PMT at the current position.
func (m *Mux) emitPMT() {
	m.gen = packetizeSection(m.gen[:0], m.pmtOut, m.pmtPID, &m.pmtCC)
	announce := int32(m.ttxPID)
	if m.ttxOff {
		announce = 0
	}
	m.pushGen(announce)
	if m.clk.valid {
		// The stream time of the last PCR: never later than the truth.
		m.lastPMT, m.pmtTimed = m.clk.st, true
	}
}

func (m *Mux) pushGen(announce int32) {
	for o := 0; o < len(m.gen); o += tsSize {
		md := m.cur
		if o == 0 {
			md.announce = announce
		}
		m.push(m.gen[o:o+tsSize], md)
	}
}

// push hands a packet to the delay line, or straight to the output.
func (m *Mux) push(pkt []byte, md meta) {
	if m.opts.Sync != SyncDelay || m.delay == 0 {
		m.output(pkt, md)
		return
	}
	m.ring.push(pkt, md)
	if md.pcr && md.clk >= 0 && pkt[3]&0x20 != 0 {
		m.restamp(md)
	}
	m.st.buffered.Store(int64(m.ring.n) * tsSize)
	for m.ring.n > 0 {
		s := m.ring.front()
		switch {
		case m.ring.n > m.maxBuf:
			if !m.overflowed {
				m.overflowed = true
				m.st.delayOverflows.Add(1)
				m.warn(fmt.Errorf("%w: %d bytes", ErrDelayOverflow, m.ring.n*tsSize))
			}
		case m.pcrPos >= 0 && s.meta.pos <= m.pcrPos && s.meta.st <= m.pcrSt-m.delay:
			// Released in steps at each PCR of the input, when the
			// times of the packets before it are exact.
			m.overflowed = false
		case !m.clk.valid && m.inBytes > m.opts.ProbeBytes:
			// No clock to measure the delay with: pass through.
		default:
			m.st.buffered.Store(int64(m.ring.n) * tsSize)
			return
		}
		m.output(s.pkt[:], s.meta)
		m.ring.pop()
	}
	m.st.buffered.Store(0)
}

// restamp spreads the stream time of the packets since the previous PCR
// linearly over the bytes between the two PCRs, now that the second one is
// known: extrapolated times may overshoot the next PCR, and the release
// order must follow the true times.
func (m *Mux) restamp(md meta) {
	if m.pcrPos >= 0 && md.pos > m.pcrPos {
		span := float64(md.st - m.pcrSt)
		n := float64(md.pos - m.pcrPos)
		for i := m.ring.n - 2; i >= 0; i-- {
			s := m.ring.at(i)
			if s.meta.pos <= m.pcrPos {
				break
			}
			s.meta.st = m.pcrSt + int64(span*float64(s.meta.pos-m.pcrPos)/n)
		}
	}
	m.pcrSt, m.pcrPos = md.st, md.pos
}

// output writes one packet and then the captions that are due.
func (m *Mux) output(pkt []byte, md meta) {
	if m.err != nil {
		return
	}
	if _, err := m.w.Write(pkt); err != nil {
		m.err = fmt.Errorf("tsmux: write: %w", err)
		return
	}
	m.st.packetsOut.Add(1)
	if md.announce >= 0 && uint16(md.announce) != m.outPID {
		m.outPID = uint16(md.announce)
		m.ttxCC = 0
	}
	if !md.pcr || md.clk < 0 {
		return
	}
	m.outClk, m.outValid = md.clk, true
	if m.outPID == 0 {
		return
	}
	if m.pending.Load() {
		m.takeCues()
	}
	for len(m.events) > 0 && m.due(&m.events[0]) {
		e := m.events[0]
		m.events = m.events[1:]
		m.emitEvent(e)
	}
}

// horizon is how far from the output time an event may be before it is
// taken as belonging to another clock epoch (after a discontinuity).
func (m *Mux) horizon() int64 {
	return m.delay/ticksPerPCR + durTicks(MaxDuration) + durTicks(30*time.Second)
}

func (m *Mux) due(e *event) bool {
	d := wrapDiff(e.pts-m.lead, m.outClk)
	if d <= 0 {
		return true
	}
	if !m.offline && d > m.horizon() {
		e.pts = wrapPTS(m.outClk + m.lead)
		return true
	}
	return false
}

func (m *Mux) emitEvent(e event) {
	pts := e.pts
	if wrapDiff(pts, m.outClk) < 0 {
		pts = m.outClk
	}
	var pes []byte
	if e.show {
		pes = m.enc.Show(e.lines, pts)
		m.showing = len(m.enc.Layout(e.lines)) > 0
		if m.showing {
			m.st.cuesShown.Add(1)
		}
	} else {
		pes = m.enc.Clear(pts)
		m.showing = false
		m.st.pagesCleared.Add(1)
	}
	m.writePES(pes)
}

// writePES packetizes a PES (N×184 bytes) on the teletext PID.
func (m *Mux) writePES(pes []byte) {
	for o := 0; o < len(pes) && m.err == nil; o += 184 {
		var p [tsSize]byte
		p[0] = 0x47
		p[1] = byte(m.outPID>>8) & 0x1F
		if o == 0 {
			p[1] |= 0x40
		}
		p[2] = byte(m.outPID)
		p[3] = 0x10 | m.ttxCC
		m.ttxCC = (m.ttxCC + 1) & 0xF
		copy(p[4:], pes[o:o+184])
		if _, err := m.w.Write(p[:]); err != nil {
			m.err = fmt.Errorf("tsmux: write: %w", err)
		}
	}
}

// takeCues turns the queued cues into events at the current output time.
func (m *Mux) takeCues() {
	m.mu.Lock()
	cues := m.incoming
	m.incoming = nil
	m.pending.Store(false)
	m.mu.Unlock()
	for _, c := range cues {
		m.schedule(c)
	}
}

func (m *Mux) schedule(c captions.Cue) {
	m.cueSeq++
	dur := c.End - c.Start
	if dur <= 0 {
		dur = durTicks(DefaultDuration)
	}
	if !m.offline {
		dur = min(dur, durTicks(MaxDuration))
	}
	var show int64
	if m.opts.Sync == SyncLive {
		show = wrapPTS(m.outClk + m.lead)
	} else {
		show = wrapPTS(c.Start)
		d := wrapDiff(show-m.lead, m.outClk)
		if d < 0 || (!m.offline && d > m.horizon()) {
			late := -d
			show = wrapPTS(m.outClk + m.lead)
			m.st.cuesLate.Add(1)
			if late > durTicks(100*time.Millisecond) || d > 0 {
				m.warn(fmt.Errorf("%w: cue %d by %v", ErrLateCue, c.ID, time.Duration(late)*time.Second/90000))
			}
		}
	}
	lines := make([]string, 0, len(c.Lines))
	for _, l := range c.Lines {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	// A new page replaces the old one: clears due at or after it go.
	kept := m.events[:0]
	for _, e := range m.events {
		if e.show || wrapDiff(e.pts, show) < 0 {
			kept = append(kept, e)
		}
	}
	m.events = kept
	m.insert(event{pts: show, show: true, lines: lines, cue: m.cueSeq})
	if len(lines) > 0 {
		m.insert(event{pts: wrapPTS(show + dur), cue: m.cueSeq})
	}
}

// insert keeps m.events ordered by PTS (stable for equal PTS).
func (m *Mux) insert(e event) {
	i := len(m.events)
	for i > 0 && wrapDiff(m.events[i-1].pts, e.pts) > 0 {
		i--
	}
	m.events = append(m.events, event{})
	copy(m.events[i+1:], m.events[i:])
	m.events[i] = e
}

// Close flushes the delay line, clears a page still showing at the end of
// the stream, and drops cues whose time did not come (ErrCueDropped). It
// returns the fatal error if there was one, else an error wrapping ErrNoPMT
// or ErrNoPCR when no caption could be placed for that reason. It does not
// close the writer.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.closed = true
	m.mu.Unlock()
	for m.ring.n > 0 && m.err == nil {
		s := m.ring.front()
		m.output(s.pkt[:], s.meta)
		m.ring.pop()
	}
	m.st.buffered.Store(0)
	if m.err != nil {
		return m.err
	}
	dropped := 0
	if m.outValid && m.outPID != 0 {
		if m.pending.Load() {
			m.takeCues()
		}
		for _, e := range m.events {
			if e.show {
				dropped++
			}
		}
		m.events = nil
		if m.showing {
			m.emitEvent(event{pts: wrapPTS(m.outClk + m.lead)})
		}
	}
	m.mu.Lock()
	dropped += len(m.incoming)
	m.incoming = nil
	m.mu.Unlock()
	if dropped > 0 {
		m.st.cuesDropped.Add(uint64(dropped))
		m.warn(fmt.Errorf("%w: %d cues after the end of the stream", ErrCueDropped, dropped))
	}
	switch {
	case m.err != nil:
		return m.err
	case m.pmtOut == nil:
		return m.noPMTError()
	case !m.outValid:
		return fmt.Errorf("%w: PCR PID %#x", ErrNoPCR, m.pcrPID)
	}
	return nil
}
