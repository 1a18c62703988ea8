package mpegts

import "strings"

// Stats are the demuxer's input-health counters. The ETSI TR 101 290
// indicators are numbered as in TR 101 290 v1.3.1. "Stream time" is the PCR of
// the selected program (before selection, of the first PID that carries a
// PCR), so time-based checks also work on files read faster than real time;
// without a PCR they do not fire.
type Stats struct {
	// BytesRead is the number of bytes read from the input.
	BytesRead uint64
	// Packets is the number of aligned 188-byte packets found in the input.
	Packets uint64
	// BytesSkipped counts garbage bytes dropped while resynchronising and
	// packets dropped because their sync byte was corrupt.
	BytesSkipped uint64
	// TailBytes counts the bytes of a truncated packet at the end of input.
	TailBytes uint64
	// PacketStride is the input framing: 188, 192 (M2TS) or 204 bytes; 0
	// before sync.
	PacketStride int
	// NullPackets counts packets on the null PID 0x1FFF.
	NullPackets uint64

	// SyncLoss is TR 101 290 1.1 TS_sync_loss: two bad sync bytes in a row.
	SyncLoss uint64
	// SyncByteError is TR 101 290 1.2 Sync_byte_error: a sync byte other
	// than 0x47 where a packet was due.
	SyncByteError uint64
	// PATError is TR 101 290 1.3 PAT_error: no PAT section for 0.5 s of
	// stream time (counted once per 0.5 s without one), a table_id other
	// than 0x00 on PID 0, or a scrambled PID 0 packet.
	PATError uint64
	// ContinuityError is TR 101 290 1.4 Continuity_count_error on any PID
	// but the null PID: a counter out of order, a lost packet, or a packet
	// sent more than twice.
	ContinuityError uint64
	// PMTError is TR 101 290 1.5 PMT_error: a PMT PID listed in the PAT
	// without a PMT section for 0.5 s of stream time (counted once per
	// 0.5 s), or a scrambled PMT packet.
	PMTError uint64
	// PIDError is TR 101 290 1.6 PID_error: the selected audio PID absent
	// for Options.PIDTimeout of stream time (counted once per period).
	PIDError uint64

	// TransportError is TR 101 290 2.1 Transport_error: packets with
	// transport_error_indicator set. They are dropped.
	TransportError uint64
	// CRCError is TR 101 290 2.2 CRC_error on the PAT and PMT sections (the
	// only tables parsed). The section is ignored.
	CRCError uint64
	// PCRDiscontinuityError is TR 101 290 2.3b: consecutive PCRs of the
	// clock PID more than 100 ms apart, or going backwards, without
	// discontinuity_indicator.
	PCRDiscontinuityError uint64
	// PTSError is TR 101 290 2.5 PTS_error on the audio PID: consecutive
	// PTS more than 700 ms apart without a signalled discontinuity.
	PTSError uint64

	// ScrambledPackets counts packets with transport_scrambling_control
	// other than 0, on any PID.
	ScrambledPackets uint64
	// ScrambledAudioPackets counts the scrambled packets on the selected
	// audio PID. Their data is never delivered.
	ScrambledAudioPackets uint64
	// MalformedPackets counts packets whose adaptation field overruns the
	// packet. They are dropped.
	MalformedPackets uint64
	// PSIErrors counts PAT and PMT data go-astits could not parse, other
	// than CRC errors.
	PSIErrors uint64
	// ParserPanics counts panics recovered from go-astits. Each is a bug
	// in go-astits worth reporting; the PSI parser is rebuilt after it.
	ParserPanics uint64
	// PESDelivered counts the audio PES returned by Next.
	PESDelivered uint64
	// PESDropped counts audio PES dropped while being assembled: after a
	// continuity error, scrambling, a discontinuity_indicator mid-PES, a
	// stream change, or truncation.
	PESDropped uint64
	// PESErrors counts audio PES with a corrupt header.
	PESErrors uint64
	// PESTooLarge counts audio PES dropped for exceeding Options.MaxPESSize.
	PESTooLarge uint64
	// Discontinuities counts delivered PES with Discontinuity set.
	Discontinuities uint64
	// StreamChanges counts changes of the selected audio PID, codec or
	// program after the first selection.
	StreamChanges uint64
	// PTSWraps counts audio PTS wraps past 2^33 that were unwrapped.
	PTSWraps uint64
}

// Reason names the causes of a discontinuity; several can be set at once.
type Reason uint16

// The causes of a discontinuity.
const (
	// ReasonIndicator: discontinuity_indicator on the audio PID or on the
	// program's PCR PID.
	ReasonIndicator Reason = 1 << iota
	// ReasonContinuity: a continuity_counter error on the audio PID, so
	// packets were lost.
	ReasonContinuity
	// ReasonDropped: audio data was dropped for another cause: a corrupt
	// PES header, a PES over Options.MaxPESSize, or a PES cut short.
	ReasonDropped
	// ReasonScrambled: scrambled audio packets were dropped.
	ReasonScrambled
	// ReasonStreamChange: the audio PID, codec or program changed after a
	// PAT or PMT update.
	ReasonStreamChange
	// ReasonPTSJump: the PTS moved more than Options.PTSJump away from the
	// value extrapolated from the previous PES.
	ReasonPTSJump
)

var reasonNames = [...]string{"indicator", "continuity", "dropped", "scrambled", "stream_change", "pts_jump"}

// String lists the reasons as "continuity|pts_jump", or "none".
func (r Reason) String() string {
	if r == 0 {
		return "none"
	}
	var parts []string
	for i, name := range reasonNames {
		if r&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if rest := r &^ (1<<len(reasonNames) - 1); rest != 0 {
		parts = append(parts, "unknown")
	}
	return strings.Join(parts, "|")
}
