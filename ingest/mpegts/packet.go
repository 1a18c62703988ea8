package mpegts

// Reserved PIDs (ISO/IEC 13818-1 Table 2-3).
const (
	pidPAT  = 0x0000
	pidNull = 0x1FFF
	// Elementary stream and PMT PIDs must lie in [pidFirstUser, pidNull).
	pidFirstUser = 0x0010
	numPIDs      = 0x2000
)

// header is the parsed transport packet header and the adaptation field
// flags the demuxer needs (ISO/IEC 13818-1 §2.4.3.2, §2.4.3.4).
type header struct {
	pid           uint16
	tei           bool // transport_error_indicator
	pusi          bool // payload_unit_start_indicator
	tsc           uint8
	cc            uint8
	hasPayload    bool
	discontinuity bool // discontinuity_indicator
	hasPCR        bool
	pcr           uint64 // program_clock_reference_base, 90 kHz, 33 bits
	payload       []byte
}

// parseHeader parses a 188-byte packet that starts with the sync byte. It
// returns false when the adaptation field length points past the packet.
func parseHeader(p []byte) (h header, ok bool) {
	if len(p) < PacketSize || p[0] != syncByte {
		return h, false
	}
	h.tei = p[1]&0x80 != 0
	h.pusi = p[1]&0x40 != 0
	h.pid = uint16(p[1]&0x1F)<<8 | uint16(p[2])
	h.tsc = p[3] >> 6
	afc := (p[3] >> 4) & 0x03
	h.cc = p[3] & 0x0F
	h.hasPayload = afc&0x01 != 0
	off := 4
	if afc&0x02 != 0 {
		afLen := int(p[4])
		off = 5 + afLen
		if off > PacketSize {
			return h, false
		}
		if afLen > 0 {
			flags := p[5]
			h.discontinuity = flags&0x80 != 0
			if flags&0x10 != 0 && afLen >= 7 {
				h.hasPCR = true
				h.pcr = uint64(p[6])<<25 | uint64(p[7])<<17 | uint64(p[8])<<9 | uint64(p[9])<<1 | uint64(p[10])>>7
			}
		}
	}
	if h.hasPayload {
		h.payload = p[off:PacketSize]
	}
	return h, true
}
