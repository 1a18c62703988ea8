package mpegts

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on. Errors returned by this package wrap
// them and add the program, PID and stream_type concerned.
var (
	// ErrNotTS means that no transport stream sync pattern was found at the
	// start of the input (within Options.NotTSLimit bytes), or that the input
	// was empty. It ends the stream.
	ErrNotTS = errors.New("mpegts: input is not an MPEG transport stream")

	// ErrNoAudio means that the selected program carries no audio elementary
	// stream, that no PAT or PMT was found, or that the audio PID carried no
	// data. The Demuxer keeps running after it: a later PMT may add audio.
	ErrNoAudio = errors.New("mpegts: no audio stream")

	// ErrUnsupportedCodec means that the program's only audio streams use a
	// codec the daemon cannot decode (for example DTS or TrueHD). It is
	// wrapped in a *StreamError naming the PID and stream_type. The Demuxer
	// keeps running after it.
	ErrUnsupportedCodec = errors.New("mpegts: unsupported audio codec")

	// ErrProgramNotFound means that Options.Program is not listed in the PAT.
	// The Demuxer keeps running after it: a later PAT may list it.
	ErrProgramNotFound = errors.New("mpegts: program not found")

	// ErrInvalidOption is returned by New for an unusable Options value.
	ErrInvalidOption = errors.New("mpegts: invalid option")
)

// StreamError describes a problem with one elementary stream. It wraps
// ErrUnsupportedCodec or ErrNoAudio.
type StreamError struct {
	// Program is the program_number of the PMT that lists the stream.
	Program uint16
	// PID is the elementary stream's PID.
	PID uint16
	// StreamType is the stream_type from the PMT.
	StreamType uint8
	// Format names the format when it is known (for example "dts").
	Format string
	// Err is the sentinel error.
	Err error
}

// Error formats the error with the PID in hex and decimal and the stream_type.
func (e *StreamError) Error() string {
	format := e.Format
	if format == "" {
		format = streamTypeName(e.StreamType)
	}
	return fmt.Sprintf("%v: %s (stream_type 0x%02x) on PID 0x%04x (%d) in program %d",
		e.Err, format, e.StreamType, e.PID, e.PID, e.Program)
}

// Unwrap returns the sentinel error.
func (e *StreamError) Unwrap() error { return e.Err }
