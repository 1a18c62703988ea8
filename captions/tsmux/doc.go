// Package tsmux adds a DVB Teletext subtitle PID to an MPEG transport
// stream: the input passes through byte for byte, and captions from
// captions/teletext go in on a PID of their own.
//
// # What changes in the stream
//
//   - Every input packet goes out unchanged and in order, except the
//     packets of the selected program's PMT (Options.Program, else the first
//     program of the PAT). The PAT and every other PID, other programs'
//     PMTs included, are untouched.
//   - The PMT gets a new version_number (the input's + 1, then + 1 for
//     every later change of the input's PMT or of the teletext PID), an ES
//     entry with stream_type 0x06 and a teletext_descriptor (language,
//     teletext_type 0x02 subtitle or 0x05 for the hard of hearing, magazine
//     and page), and a new CRC-32. It is re-packetized on its PID with its
//     own continuity counter; a PMT packet's adaptation field with content
//     (a PCR, a discontinuity flag) is kept as an adaptation-field-only
//     packet. Sections of other programs or tables on that PID pass through
//     re-packetized. A PMT that fails its CRC is dropped and the last good
//     one is repeated. A PMT that changes mid-stream (new version, new
//     streams, new PCR PID) is rewritten again. A PMT with no room left
//     (over 1021 bytes) passes unchanged and no captions are sent.
//   - When the input's PMTs are further apart than Options.PMTInterval
//     (400 ms), the rewritten PMT is repeated at the next PCR, so the output
//     has one at least every 0.5 s. The PAT is never repeated or changed.
//   - The teletext PID carries one PES per page change (show or clear),
//     each N×184 bytes, so it fills whole packets; its continuity counter
//     runs from 0 without gaps.
//
// # The teletext PID
//
// A configured PID (Options.PID) must be free: if the PAT, the PMT or any
// input packet uses it, the mux stops with ErrPIDClash (WritePacket and
// Close return it; the output so far is whole packets). Without one, the mux
// picks the first PID after the program's highest ES PID that nothing has
// used so far; if the input later uses it (a new PMT lists it, or a packet
// on it appears), the teletext moves to the next free PID with a new PMT
// version and ErrPIDMoved is reported. The input's packets on the old PID
// then follow the mux's, so a decoder that was reading that PID sees a
// continuity break there.
//
// # Timing
//
// The mux follows the program clock: the PCR of the program's PCR PID. A
// caption PES goes in right after a packet that carries a PCR, as soon as
// PCR ≥ PTS − Options.Lead (120 ms), so PTS − PCR lies between Lead minus
// the PCR interval and Lead: with PCRs at most 80 ms apart, 40–120 ms,
// within ffmpeg's 0–140.6 ms window (ffmpeg's -fix_teletext_pts then
// changes nothing) and early enough for set-top boxes.
//
//   - SyncLive: a cue is shown at the next PCR, with PTS = PCR + Lead, and
//     cleared after its duration (End − Start; DefaultDuration when that is
//     not positive; at most MaxDuration). Cue times are otherwise ignored.
//   - SyncDelay: the whole stream waits in a delay line for Options.Delay
//     of stream time (the PCR clock made continuous across
//     discontinuities). A cue's Start and End are PTS on the 90 kHz media
//     clock (the demuxer's unwrapped PTS works: only its value modulo 2^33
//     counts), and its page is shown and cleared exactly there, provided the
//     cue reaches the mux while its start is still in the delay line (the
//     recognizer's latency plus the cue's duration below Delay). A later cue
//     is shown at once (ErrLateCue) with its duration kept. The output
//     leaves the line in steps at each input PCR, exactly Delay behind
//     (within one PCR interval). Memory is Delay × bitrate plus a little,
//     capped at Options.MaxDelayBytes (64 MiB), beyond which the oldest
//     packets leave early (ErrDelayOverflow). Before the first PCR, packets
//     wait too; with no PCR after ProbeBytes they pass without delay.
//
// A page replaces the previous one (the header's erase flag), so cues are
// shown one at a time: a cue that starts before the previous one ends cuts
// it short. A cue without text clears the page. After a PCR discontinuity
// (a jump, a step back, the discontinuity_indicator, a new PCR PID), events
// whose time is more than Delay + 90 s away from the new clock are taken as
// belonging to the old one and are shown or cleared at once. At Close, a
// page still showing is cleared, and cues whose time did not come are
// dropped (ErrCueDropped).
//
// # Errors and bad input
//
// Fatal errors (ErrPacket aside, which only rejects the one packet) are
// sticky: the mux writes nothing more. Everything else goes to
// Options.OnWarning, and the stream keeps flowing. Without a PAT, the
// program, or a valid PMT within Options.ProbeBytes (4 MiB), ErrNoPMT is
// reported and the stream passes through unchanged until a PMT appears;
// Close returns it too. A PMT but no PCR gives ErrNoPCR in the same way.
// Continuity errors, scrambled packets and transport errors in the input
// pass through as they are (a PMT packet with the transport_error_indicator
// is dropped).
//
// # Offline
//
// MuxCaptions is the offline path (`subtitled mux --captions FILE`): it
// reads a whole TS, maps cue times relative to the input's first PTS (or
// takes them as absolute PTS), and inserts them without a delay line.
package tsmux
