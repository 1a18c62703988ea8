// Package ingest turns live sources into decoded audio frames.
//
// Sub-packages do the work: ingest/mpegts demultiplexes transport streams,
// ingest/audio decodes compressed audio to 16 kHz mono float32. This package
// holds the types that flow between them and the recognizer.
package ingest

import "time"

// SampleRate is the rate of every Frame's samples, in Hz.
const SampleRate = 16000

// PTSHz is the rate of the media clock every PTS is expressed in.
const PTSHz = 90000

// Frame is a run of decoded audio in media time.
type Frame struct {
	// Samples are 16 kHz mono PCM in [-1, 1].
	Samples []float32
	// PTS is the media time of Samples[0] on the 90 kHz clock, unwrapped
	// (monotonic across the 33-bit wrap).
	PTS int64
	// Wall is when the audio arrived at the daemon.
	Wall time.Time
	// Discontinuity marks the first frame after a break in the media clock:
	// a PTS jump, a PID or program change, or a reconnect. Consumers finalise
	// what they have and re-anchor on this frame's PTS.
	Discontinuity bool
}

// SamplePTS returns the PTS of sample n of a segment anchored at pts0, using
// exact integer arithmetic so that no drift accumulates (ARCHITECTURE §3).
func SamplePTS(pts0 int64, n int64) int64 {
	return pts0 + n*PTSHz/SampleRate
}
