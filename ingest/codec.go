package ingest

// Codec identifies a compressed audio format carried by a source.
type Codec int

// The audio codecs the daemon decodes.
const (
	CodecUnknown Codec = iota
	CodecAACADTS       // AAC in ADTS framing (stream_type 0x0F)
	CodecAACLATM       // AAC in LATM/LOAS framing (stream_type 0x11)
	CodecMP2           // MPEG-1/2 Layer II (stream_type 0x03, 0x04)
	CodecAC3           // AC-3 (stream_type 0x81, or 0x06 + AC-3 descriptor)
	CodecEAC3          // E-AC-3 (stream_type 0x87, or 0x06 + enhanced AC-3 descriptor)
	CodecOpus          // Opus (WebRTC, or 0x06 + Opus registration in TS)
)

var codecNames = [...]string{"unknown", "aac", "aac_latm", "mp2", "ac3", "eac3", "opus"}

// String returns the short lower-case name used in logs, metrics and config.
func (c Codec) String() string {
	if c < 0 || int(c) >= len(codecNames) {
		return "unknown"
	}
	return codecNames[c]
}
