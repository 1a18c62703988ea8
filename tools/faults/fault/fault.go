// Package fault damages MPEG transport streams in controlled, reproducible
// ways, to make the fault fixtures of docs/RELIABILITY.md.
//
// Every function takes a clean 188-byte-aligned TS in memory and returns a
// damaged copy; the input is never modified. Where a fault lands is given as
// a Window of the packet sequence (fractions of the packet count, which for a
// constant-rate stream are fractions of its duration). Random faults draw from
// a generator seeded by the caller, so the same input and seed always give
// the same bytes.
package fault

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// PacketSize is the size of a transport stream packet.
const PacketSize = 188

// NullPID is the PID of null (stuffing) packets.
const NullPID = 0x1FFF

// ErrNotTS reports input that is not a sequence of 188-byte packets that
// each start with the sync byte 0x47.
var ErrNotTS = errors.New("fault: input is not an aligned 188-byte transport stream")

// ErrNoAudio reports a stream whose PAT and PMT name no audio PID.
var ErrNoAudio = errors.New("fault: no audio PID in the PMT")

// Window is a stretch of the packet sequence, as fractions in [0, 1] of the
// packet count: packet i is inside when From ≤ i/n < To.
type Window struct{ From, To float64 }

// All is the whole stream.
var All = Window{0, 1}

func (w Window) bounds(n int) (int, int) {
	lo := int(w.From * float64(n))
	hi := int(w.To * float64(n))
	return max(0, min(lo, n)), max(0, min(hi, n))
}

// Stream is a parsed view of a clean TS: its packets and the PIDs the
// faults need.
type Stream struct {
	data     []byte
	pmtPIDs  map[uint16]bool
	pids     map[uint16]bool // every PID with a packet
	audioPID uint16
	pmtPID   uint16 // PMT PID of the program carrying audioPID
	program  uint16 // program_number of that program
}

// Parse checks that data is an aligned TS and finds its PMT PIDs and the
// first audio elementary stream.
func Parse(data []byte) (*Stream, error) {
	if len(data) == 0 || len(data)%PacketSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotTS, len(data))
	}
	s := &Stream{data: data, pmtPIDs: map[uint16]bool{}, pids: map[uint16]bool{}}
	for i := 0; i < s.Packets(); i++ {
		p := s.packet(i)
		if p[0] != 0x47 {
			return nil, fmt.Errorf("%w: packet %d starts with 0x%02x", ErrNotTS, i, p[0])
		}
		s.pids[pid(p)] = true
	}
	programOf := map[uint16]uint16{} // PMT PID → program_number
	for i := 0; i < s.Packets(); i++ {
		p := s.packet(i)
		sec := section(p)
		if sec == nil {
			continue
		}
		switch pid(p) {
		case 0:
			for _, e := range patPrograms(sec) {
				s.pmtPIDs[e.pmtPID] = true
				programOf[e.pmtPID] = e.program
			}
		default:
			if !s.pmtPIDs[pid(p)] || sec[0] != 0x02 || s.audioPID != 0 {
				continue
			}
			for _, es := range pmtStreams(sec) {
				if isAudio(es.typ) {
					s.audioPID, s.pmtPID, s.program = es.pid, pid(p), programOf[pid(p)]
					break
				}
			}
		}
	}
	if s.audioPID == 0 {
		return nil, ErrNoAudio
	}
	return s, nil
}

// AudioPTS returns the PTS (33 bits, as in the stream) of every audio PES
// that starts in a packet of its own PID and carries one, in stream order.
func (s *Stream) AudioPTS() []int64 {
	var out []int64
	for i := 0; i < s.Packets(); i++ {
		if p := s.packet(i); pid(p) == s.audioPID {
			if v, ok := pesPTS(p); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// Packets is the number of packets in the stream.
func (s *Stream) Packets() int { return len(s.data) / PacketSize }

// AudioPID is the PID of the first audio stream of the first PMT.
func (s *Stream) AudioPID() uint16 { return s.audioPID }

// PMTPID is the PMT PID of the program with the audio stream.
func (s *Stream) PMTPID() uint16 { return s.pmtPID }

// Program is the program_number of the program with the audio stream.
func (s *Stream) Program() uint16 { return s.program }

func (s *Stream) packet(i int) []byte { return s.data[i*PacketSize : (i+1)*PacketSize] }

// edit copies the stream, calling f for each packet index with a copy of
// the packet; f returns the bytes to write in its place (nil drops it).
func (s *Stream) edit(f func(i int, p []byte) []byte) []byte {
	out := make([]byte, 0, len(s.data))
	for i := 0; i < s.Packets(); i++ {
		p := append([]byte(nil), s.packet(i)...)
		out = append(out, f(i, p)...)
	}
	return out
}

// inWindow returns a predicate for packet indexes inside w.
func (s *Stream) inWindow(w Window) func(int) bool {
	lo, hi := w.bounds(s.Packets())
	return func(i int) bool { return i >= lo && i < hi }
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// ContinuityErrors adds 5 (mod 16) to the continuity_counter of packets
// other than null packets inside w, each with probability p.
func (s *Stream) ContinuityErrors(w Window, p float64, seed uint64) []byte {
	r, in := newRand(seed), s.inWindow(w)
	return s.edit(func(i int, b []byte) []byte {
		if in(i) && pid(b) != NullPID && r.Float64() < p {
			b[3] = b[3]&0xF0 | (b[3]+5)&0x0F
		}
		return b
	})
}

// RandomLoss drops each packet inside w with probability p.
func (s *Stream) RandomLoss(w Window, p float64, seed uint64) []byte {
	r, in := newRand(seed), s.inWindow(w)
	return s.edit(func(i int, b []byte) []byte {
		if in(i) && r.Float64() < p {
			return nil
		}
		return b
	})
}

// BurstLoss starts, with probability p per packet inside w, a burst that
// drops that packet and the next burst-1 (a lost UDP datagram holds 7).
func (s *Stream) BurstLoss(w Window, p float64, burst int, seed uint64) []byte {
	r, in := newRand(seed), s.inWindow(w)
	left := 0
	return s.edit(func(i int, b []byte) []byte {
		if left == 0 && in(i) && r.Float64() < p {
			left = burst
		}
		if left > 0 {
			left--
			return nil
		}
		return b
	})
}

// DropPIDs drops every packet on the given PIDs inside w.
func (s *Stream) DropPIDs(w Window, pids ...uint16) []byte {
	in := s.inWindow(w)
	drop := map[uint16]bool{}
	for _, p := range pids {
		drop[p] = true
	}
	return s.edit(func(i int, b []byte) []byte {
		if in(i) && drop[pid(b)] {
			return nil
		}
		return b
	})
}

// PATLoss drops all PAT packets (PID 0) inside w.
func (s *Stream) PATLoss(w Window) []byte { return s.DropPIDs(w, 0) }

// PMTLoss drops all PMT packets inside w.
func (s *Stream) PMTLoss(w Window) []byte {
	var pids []uint16
	for p := range s.pmtPIDs {
		pids = append(pids, p)
	}
	return s.DropPIDs(w, pids...)
}

// Scramble sets transport_scrambling_control to '10' (even key) on the
// audio packets inside w.
func (s *Stream) Scramble(w Window) []byte {
	in := s.inWindow(w)
	return s.edit(func(i int, b []byte) []byte {
		if in(i) && pid(b) == s.audioPID {
			b[3] = b[3]&0x3F | 0x80
		}
		return b
	})
}

// TransportErrors sets transport_error_indicator on packets inside w, each
// with probability p.
func (s *Stream) TransportErrors(w Window, p float64, seed uint64) []byte {
	r, in := newRand(seed), s.inWindow(w)
	return s.edit(func(i int, b []byte) []byte {
		if in(i) && r.Float64() < p {
			b[1] |= 0x80
		}
		return b
	})
}

// Garbage is what SyncLoss inserts between packets.
var Garbage = []byte{0xDE, 0xAD, 0xBE, 0xEF, 0x00}

// SyncLoss inserts Garbage before packets inside w, each with probability
// p; everything after an insertion is misaligned until a reader resyncs.
func (s *Stream) SyncLoss(w Window, p float64, seed uint64) []byte {
	r, in := newRand(seed), s.inWindow(w)
	return s.edit(func(i int, b []byte) []byte {
		if in(i) && r.Float64() < p {
			return append(append([]byte(nil), Garbage...), b...)
		}
		return b
	})
}

// NullPacket returns a null packet (PID 0x1FFF, payload of 0xFF).
func NullPacket() []byte {
	p := make([]byte, PacketSize)
	copy(p, []byte{0x47, 0x1F, 0xFF, 0x10})
	for i := 4; i < PacketSize; i++ {
		p[i] = 0xFF
	}
	return p
}

// NullBurst inserts n null packets after every packet inside w (a tenfold
// bitrate for n = 9).
func (s *Stream) NullBurst(w Window, n int) []byte {
	in := s.inWindow(w)
	null := NullPacket()
	return s.edit(func(i int, b []byte) []byte {
		if in(i) {
			for range n {
				b = append(b, null...)
			}
		}
		return b
	})
}

// BitFlips flips one random bit of each byte inside w, sync bytes excepted,
// with probability p per byte.
func (s *Stream) BitFlips(w Window, p float64, seed uint64) []byte {
	r, in := newRand(seed), s.inWindow(w)
	return s.edit(func(i int, b []byte) []byte {
		if !in(i) {
			return b
		}
		for j := 1; j < len(b); j++ {
			if r.Float64() < p {
				b[j] ^= 1 << r.IntN(8)
			}
		}
		return b
	})
}

// Truncate keeps the packets before fraction at of the stream plus extra
// bytes of the next packet, cutting it (and its PES) short.
func (s *Stream) Truncate(at float64, extra int) []byte {
	n, _ := Window{at, at}.bounds(s.Packets())
	end := min(n*PacketSize+max(0, min(extra, PacketSize-1)), len(s.data))
	return append([]byte(nil), s.data[:end]...)
}

// ptsModulus is 2^33, the modulus of PTS, DTS and PCR bases.
const ptsModulus = 1 << 33

// PTSJump adds delta (90 kHz ticks, may be negative) to the PTS and DTS of
// every PES that starts at or after fraction at of the stream, on all PIDs,
// without signalling a discontinuity. The PCR is left alone.
func (s *Stream) PTSJump(at float64, delta int64) []byte {
	in := s.inWindow(Window{at, 1})
	return s.edit(func(i int, b []byte) []byte {
		if in(i) {
			shiftPES(b, delta)
		}
		return b
	})
}

// PCRJump adds delta (90 kHz ticks, may be negative) to the PCR base of
// every packet at or after fraction at of the stream, without setting
// discontinuity_indicator. PTS and DTS are left alone.
func (s *Stream) PCRJump(at float64, delta int64) []byte {
	in := s.inWindow(Window{at, 1})
	return s.edit(func(i int, b []byte) []byte {
		if in(i) {
			shiftPCR(b, delta)
		}
		return b
	})
}

// PTSWrap re-stamps the whole stream so that its clock wraps past 2^33 at
// the first audio PES with a PTS at or after fraction at of the stream: that
// PES gets PTS 0, the one before it a PTS just below 2^33. Every PTS, DTS
// and PCR base, on every PID, moves by the same amount (mod 2^33), so the
// stream stays continuous: a demuxer that unwraps the 33-bit clock sees no
// jump at all. It returns the stream and the shift in 90 kHz ticks.
func (s *Stream) PTSWrap(at float64) ([]byte, int64, error) {
	lo, _ := Window{at, at}.bounds(s.Packets())
	pts := int64(-1)
	for i := lo; i < s.Packets() && pts < 0; i++ {
		if p := s.packet(i); pid(p) == s.audioPID {
			if v, ok := pesPTS(p); ok {
				pts = v
			}
		}
	}
	if pts < 0 {
		return nil, 0, fmt.Errorf("fault: PTSWrap: no audio PTS after %.2f of the stream", at)
	}
	delta := ptsModulus - pts
	out := s.edit(func(_ int, b []byte) []byte {
		shiftPES(b, delta)
		shiftPCR(b, delta)
		return b
	})
	return out, delta, nil
}

// shiftPES adds delta (mod 2^33) to the PTS and DTS of the PES that starts
// in packet b, if any.
func shiftPES(b []byte, delta int64) {
	pl := pesHeader(b)
	if pl == nil {
		return
	}
	flags := pl[7] >> 6
	if flags&2 != 0 && len(pl) >= 14 {
		putTimestamp(pl[9:14], addMod(timestamp(pl[9:14]), delta))
	}
	if flags == 3 && len(pl) >= 19 {
		putTimestamp(pl[14:19], addMod(timestamp(pl[14:19]), delta))
	}
}

// pesHeader returns the payload of b when a PES with the MPEG-2 header
// syntax starts in it, else nil.
func pesHeader(b []byte) []byte {
	if b[1]&0x40 == 0 {
		return nil
	}
	pl := payload(b)
	if len(pl) < 9 || pl[0] != 0 || pl[1] != 0 || pl[2] != 1 || pl[6]&0xC0 != 0x80 {
		return nil
	}
	return pl
}

// pesPTS returns the PTS of the PES that starts in packet b.
func pesPTS(b []byte) (int64, bool) {
	pl := pesHeader(b)
	if pl == nil || pl[7]&0x80 == 0 || len(pl) < 14 {
		return 0, false
	}
	return timestamp(pl[9:14]), true
}

// shiftPCR adds delta (mod 2^33) to the PCR base of packet b, if it has
// one; the extension and the discontinuity_indicator are left alone.
func shiftPCR(b []byte, delta int64) {
	if b[3]&0x20 == 0 || b[4] < 7 || b[5]&0x10 == 0 {
		return
	}
	base := uint64(b[6])<<25 | uint64(b[7])<<17 | uint64(b[8])<<9 | uint64(b[9])<<1 | uint64(b[10])>>7
	base = uint64(addMod(int64(base), delta))
	b[6], b[7], b[8], b[9] = byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1)
	b[10] = b[10]&0x7F | byte(base&1)<<7
}

// PMTChange moves the audio stream to newPID from fraction at of the stream
// on: its packets get the new PID, and every PMT section of its program
// from there on names newPID and carries the next version_number, with its
// CRC recomputed. PMT sections that do not fit in one packet are left as
// they are.
func (s *Stream) PMTChange(at float64, newPID uint16) ([]byte, error) {
	if newPID == s.audioPID || newPID == 0 || newPID >= NullPID || s.pmtPIDs[newPID] {
		return nil, fmt.Errorf("fault: PMTChange: unusable new PID 0x%04x", newPID)
	}
	in := s.inWindow(Window{at, 1})
	changed := 0
	out := s.edit(func(i int, b []byte) []byte {
		if !in(i) {
			return b
		}
		switch pid(b) {
		case s.audioPID:
			setPID(b, newPID)
		case s.pmtPID:
			if rewritePMT(b, s.audioPID, newPID) {
				changed++
			}
		}
		return b
	})
	if changed == 0 {
		return nil, fmt.Errorf("fault: PMTChange: no PMT section after %.2f of the stream to rewrite", at)
	}
	return out, nil
}

// ProgramChange replaces the audio's program by another one from fraction
// at of the stream on, as a switch to another service does: every PAT
// section from there on lists program newProgram on PMT PID newPMT in
// place of the old program (with the next version_number); the old PMT's
// packets move to newPMT and their sections become newProgram's PMT, with
// the audio on newAudio (and the PCR too, when it rode on the audio PID);
// the audio packets move to newAudio. Other programs and PIDs are left as
// they are. Sections that do not fit in one packet are left unchanged. The
// new program number and both new PIDs must be unused in the stream.
func (s *Stream) ProgramChange(at float64, newProgram, newPMT, newAudio uint16) ([]byte, error) {
	if newProgram == 0 || newProgram == s.program {
		return nil, fmt.Errorf("fault: ProgramChange: unusable program number %d", newProgram)
	}
	for _, p := range []uint16{newPMT, newAudio} {
		if p < 0x0010 || p >= NullPID || s.pids[p] || newPMT == newAudio {
			return nil, fmt.Errorf("fault: ProgramChange: unusable new PID 0x%04x", p)
		}
	}
	in := s.inWindow(Window{at, 1})
	pats, pmts := 0, 0
	out := s.edit(func(i int, b []byte) []byte {
		if !in(i) {
			return b
		}
		switch pid(b) {
		case 0:
			if editSection(b, 0x00, func(sec []byte) bool { return s.patToNewProgram(sec, newProgram, newPMT) }) {
				pats++
			}
		case s.pmtPID:
			setPID(b, newPMT)
			if editSection(b, 0x02, func(sec []byte) bool { return s.pmtToNewProgram(sec, newProgram, newAudio) }) {
				pmts++
			}
		case s.audioPID:
			setPID(b, newAudio)
		}
		return b
	})
	if pats == 0 || pmts == 0 {
		return nil, fmt.Errorf("fault: ProgramChange: %d PAT and %d PMT sections after %.2f of the stream to rewrite", pats, pmts, at)
	}
	return out, nil
}

// patToNewProgram swaps the audio's program for newProgram on newPMT in a
// PAT section and bumps its version.
func (s *Stream) patToNewProgram(sec []byte, newProgram, newPMT uint16) bool {
	for _, e := range patPrograms(sec) {
		if e.program == s.program && e.pmtPID == s.pmtPID {
			sec[e.off], sec[e.off+1] = byte(newProgram>>8), byte(newProgram)
			put13(sec[e.off+2:], newPMT)
			bumpVersion(sec)
			return true
		}
	}
	return false
}

// pmtToNewProgram turns the audio program's PMT section into newProgram's,
// with the audio (and a PCR on the audio PID) on newAudio.
func (s *Stream) pmtToNewProgram(sec []byte, newProgram, newAudio uint16) bool {
	if uint16(sec[3])<<8|uint16(sec[4]) != s.program {
		return false
	}
	sec[3], sec[4] = byte(newProgram>>8), byte(newProgram)
	if uint16(sec[8]&0x1F)<<8|uint16(sec[9]) == s.audioPID {
		put13(sec[8:], newAudio)
	}
	for _, es := range pmtStreams(sec) {
		if es.pid == s.audioPID {
			put13(sec[es.off+1:], newAudio)
		}
	}
	return true
}

// BitrateSpikes inserts bursts of null (stuffing) packets inside w: in
// every run of period packets, each of the first length packets is
// followed by factor−1 null packets, so for that stretch the bitrate is
// factor times the stream's, and between the bursts it is unchanged. Unlike
// NullBurst's steady padding, the input rate jumps up and down again.
func (s *Stream) BitrateSpikes(w Window, period, length, factor int) []byte {
	lo, _ := w.bounds(s.Packets())
	in := s.inWindow(w)
	null := NullPacket()
	return s.edit(func(i int, b []byte) []byte {
		if in(i) && period > 0 && (i-lo)%period < length {
			for range factor - 1 {
				b = append(b, null...)
			}
		}
		return b
	})
}

// Concat joins transport streams byte for byte, as a splice of two
// recordings does: the tables, PIDs, codecs and clocks of the parts may all
// differ.
func Concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
