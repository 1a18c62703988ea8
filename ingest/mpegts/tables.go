package mpegts

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/asticode/go-astits"
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
	if !first {
		// The PMTs of new programs follow the new PAT: wait for them, as
		// at the start, before a missing one counts as no audio.
		d.probeDone, d.probeFrom = false, d.packets
	}
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
