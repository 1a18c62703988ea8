package source

import "encoding/binary"

// rtpPayloadTypeMP2T is the static RTP payload type of MPEG-2 TS (RFC 3551).
const rtpPayloadTypeMP2T = 33

// stripRTP returns the TS payload of an RTP datagram that carries MPEG-2 TS
// (RFC 2250: version 2, payload type 33), without the fixed header, the
// CSRC list, the header extension and the padding, and true. Any other
// datagram, a raw TS one (it starts with the sync byte 0x47, which reads as
// version 1) or an RTP one whose lengths do not fit, comes back unchanged
// with false: the demuxer resyncs on whatever it is.
func stripRTP(b []byte) ([]byte, bool) {
	if len(b) < 12 || b[0]>>6 != 2 || b[1]&0x7F != rtpPayloadTypeMP2T {
		return b, false
	}
	off := 12 + 4*int(b[0]&0x0F)
	if b[0]&0x10 != 0 { // header extension: 16-bit profile, 16-bit length in words
		if len(b) < off+4 {
			return b, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding: the last byte counts the padding bytes
		pad := int(b[end-1])
		if pad == 0 || pad > end-off {
			return b, false
		}
		end -= pad
	}
	if off > end {
		return b, false
	}
	return b[off:end], true
}
