// Package captions turns recognised words into caption cues and writes them
// out: segmentation and line breaking, the verbatim-to-subtitle rules, and the
// caption file formats.
package captions

import (
	"strings"
	"time"
)

// Cue is one caption as every sink carries it. A final cue is immutable.
type Cue struct {
	// ID is monotonic per channel and track and never reused.
	ID    uint64
	Track string
	Lines []string
	// Start and End are media time on the 90 kHz clock.
	Start, End int64
	// SpeechEnd is the media time at which the cue's last word ends (End
	// adds the hang, or is cut by the next cue): what caption latency is
	// measured from. Sinks do not write it.
	SpeechEnd int64
	// Emitted is the wall time at which the cue was finalised.
	Emitted time.Time
}

// Text joins the lines with "\n".
func (c Cue) Text() string { return strings.Join(c.Lines, "\n") }
