package mpegts

import (
	"errors"
	"fmt"
)

// ErrOpusFraming means that an Opus PES payload does not follow the
// opus_control_header framing.
var ErrOpusFraming = errors.New("mpegts: bad Opus access unit framing")

// SplitOpus splits the payload of an Opus PES (PES.Codec == ingest.CodecOpus)
// into bare Opus packets, as a decoder wants them. In a transport stream each
// Opus packet is preceded by an opus_control_header: the 11-bit prefix 0x3FF,
// start_trim, end_trim and control_extension flags, the packet size as a run
// of 0xFF bytes plus a final byte below 0xFF, then the optional trim and
// extension fields. The trims are dropped. The packets are sub-slices of
// data; the first takes the PES PTS and the others follow it back to back.
// On malformed framing it returns the packets before the fault and an error
// wrapping ErrOpusFraming.
func SplitOpus(data []byte) ([][]byte, error) {
	var out [][]byte
	for off := 0; off < len(data); {
		if off+2 > len(data) || data[off] != 0x7F || data[off+1]&0xE0 != 0xE0 {
			return out, fmt.Errorf("%w: no control header at byte %d of %d", ErrOpusFraming, off, len(data))
		}
		flags := data[off+1]
		off += 2
		size := 0
		for {
			if off >= len(data) {
				return out, fmt.Errorf("%w: size cut at byte %d", ErrOpusFraming, off)
			}
			b := data[off]
			off++
			size += int(b)
			if b != 0xFF {
				break
			}
		}
		if flags&0x10 != 0 { // start_trim
			off += 2
		}
		if flags&0x08 != 0 { // end_trim
			off += 2
		}
		if flags&0x04 != 0 { // control_extension
			if off >= len(data) {
				return out, fmt.Errorf("%w: extension cut at byte %d", ErrOpusFraming, off)
			}
			off += 1 + int(data[off])
		}
		if off+size > len(data) {
			return out, fmt.Errorf("%w: packet of %d bytes at byte %d overruns the %d-byte payload", ErrOpusFraming, size, off, len(data))
		}
		out = append(out, data[off:off+size:off+size])
		off += size
	}
	return out, nil
}
