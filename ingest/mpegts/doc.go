// Package mpegts demultiplexes the audio of an MPEG transport stream
// (ISO/IEC 13818-1) for the recognizer.
//
// The input goes through three layers:
//
//   - Resync turns any byte stream into whole, aligned 188-byte packets. It
//     hunts for the sync byte 0x47 at packet steps, drops garbage between
//     packets and counts what it lost (ETSI TR 101 290 1.1 and 1.2).
//     go-astits stops for good at a lost sync byte, so nothing reaches it
//     without passing through Resync.
//   - Demuxer reads the packets, hands the PAT and PMT packets to go-astits
//     for PSI parsing, selects one audio elementary stream (by language, else
//     the first audio stream of the program) and assembles its PES packets.
//   - Each audio PES comes out of Demuxer.Next with its codec, language and a
//     PTS that is unwrapped once, here, into a monotonic int64 on the 90 kHz
//     clock. Breaks in the media clock or in the data (continuity errors,
//     discontinuity_indicator, stream changes, PTS jumps, scrambled or
//     corrupt packets) set PES.Discontinuity and name their cause.
//
// Stats holds TR 101 290 style counters for the input-health metrics.
// SplitOpus removes the TS framing (opus_control_header) from Opus payloads.
package mpegts
