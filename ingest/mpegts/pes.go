package mpegts

import "errors"

// PES parsing errors. They stay inside the package: a PES that fails to parse
// is dropped and counted.
var (
	errPESStartCode = errors.New("mpegts: PES does not start with 00 00 01")
	errPESShort     = errors.New("mpegts: PES header truncated")
	errPESMarker    = errors.New("mpegts: PES optional header lacks the '10' marker")
	errPESPadding   = errors.New("mpegts: padding stream")
)

// pesHeader is the part of a PES header the demuxer uses
// (ISO/IEC 13818-1 §2.4.3.6).
type pesHeader struct {
	streamID byte
	// length is PES_packet_length: the bytes after the length field, or 0
	// when unbounded.
	length  int
	hasPTS  bool
	pts     uint64
	hasDTS  bool
	dts     uint64
	payload int // offset of the payload in the PES
}

// hasOptionalHeader reports whether PES packets of this stream_id carry the
// optional header with flags and timestamps (Table 2-22 and §2.4.3.7).
func hasOptionalHeader(id byte) bool {
	switch id {
	case 0xBC, // program_stream_map
		0xBE, // padding_stream
		0xBF, // private_stream_2
		0xF0, // ECM
		0xF1, // EMM
		0xF2, // DSMCC_stream
		0xF8, // ITU-T H.222.1 type E
		0xFF: // program_stream_directory
		return false
	}
	return true
}

// parsePESHeader parses the start of a PES packet.
func parsePESHeader(b []byte) (h pesHeader, err error) {
	if len(b) < 6 {
		return h, errPESShort
	}
	if b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return h, errPESStartCode
	}
	h.streamID = b[3]
	h.length = int(b[4])<<8 | int(b[5])
	if h.streamID == 0xBE {
		return h, errPESPadding
	}
	if !hasOptionalHeader(h.streamID) {
		h.payload = 6
		return h, nil
	}
	if len(b) < 9 {
		return h, errPESShort
	}
	if b[6]&0xC0 != 0x80 {
		return h, errPESMarker
	}
	flags := b[7] >> 6
	hdrLen := int(b[8])
	h.payload = 9 + hdrLen
	if h.payload > len(b) {
		return h, errPESShort
	}
	if flags&0x02 != 0 {
		if hdrLen < 5 {
			return h, errPESShort
		}
		h.hasPTS, h.pts = true, parseTimestamp(b[9:14])
		if flags == 0x03 {
			if hdrLen < 10 {
				return h, errPESShort
			}
			h.hasDTS, h.dts = true, parseTimestamp(b[14:19])
		}
	}
	return h, nil
}

// parseTimestamp decodes a 33-bit PTS or DTS from its 5-byte field, ignoring
// the marker bits.
func parseTimestamp(b []byte) uint64 {
	return uint64(b[0]>>1&0x07)<<30 | uint64(b[1])<<22 | uint64(b[2]>>1)<<15 |
		uint64(b[3])<<7 | uint64(b[4]>>1)
}
