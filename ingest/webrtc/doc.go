// Package webrtc is the WHIP (RFC 9725) ingest: an HTTP handler on which
// publishers (browsers, OBS, GStreamer) POST an SDP offer and then send Opus
// audio over WebRTC (pion/webrtc v4). Each configured channel accepts one
// publisher at a time, authenticated by a bearer token. The audio packets
// are put back in order by a small reorder buffer, stamped with a 90 kHz PTS
// that stays monotonic across reconnects, and handed to the channel's
// OnPacket callback; decoding is up to the caller.
//
// Sessions end on DELETE, when the peer connection fails or closes, when it
// does not connect within Config.SetupTimeout, on RemovePublisher and on
// Close; every goroutine a session starts is gone when it has ended.
package webrtc
