package webrtc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// MaxMediaSections is the most m-lines an offer may carry.
const MaxMediaSections = 16

// Offer rejections. The HTTP body carries the wrapped error's text.
var (
	// ErrBadOffer: the body is not a usable SDP offer.
	ErrBadOffer = errors.New("bad SDP offer")
	// ErrNoAudio: the offer sends no Opus audio.
	ErrNoAudio = errors.New("offer has no Opus audio")
	// ErrVideoRejected: the offer has video and the channel rejects video.
	ErrVideoRejected = errors.New("offer has video and this channel accepts audio only")
)

// offerInfo is what the server needs from a validated offer.
type offerInfo struct {
	mediaSections int
	hasVideo      bool
	// channelsByPT maps each Opus payload type of the audio m-line to its
	// channel count (1 or 2); other payload types are 0.
	channelsByPT [128]uint8
	opusPTs      []uint8
}

// validateOffer parses an SDP offer and checks it before any PeerConnection
// exists: at most MaxMediaSections m-lines, one audio m-line that sends Opus
// at 48 kHz, and no video when rejectVideo is set.
func validateOffer(body []byte, rejectVideo bool) (offerInfo, error) {
	var info offerInfo
	if len(strings.TrimSpace(string(body))) == 0 {
		return info, fmt.Errorf("%w: empty body", ErrBadOffer)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return info, fmt.Errorf("%w: %s", ErrBadOffer, oneLine(err.Error()))
	}
	info.mediaSections = len(sd.MediaDescriptions)
	if info.mediaSections == 0 {
		return info, fmt.Errorf("%w: no media sections", ErrNoAudio)
	}
	if info.mediaSections > MaxMediaSections {
		return info, fmt.Errorf("%w: %d media sections (at most %d)", ErrBadOffer, info.mediaSections, MaxMediaSections)
	}
	for _, md := range sd.MediaDescriptions {
		if md == nil {
			continue
		}
		switch md.MediaName.Media {
		case "video":
			if md.MediaName.Port.Value != 0 {
				info.hasVideo = true
			}
		case "audio":
			if md.MediaName.Port.Value == 0 || !sends(md) {
				continue
			}
			opusInSection(md, &info)
		}
	}
	if info.hasVideo && rejectVideo {
		return info, ErrVideoRejected
	}
	if len(info.opusPTs) == 0 {
		return info, ErrNoAudio
	}
	return info, nil
}

// sends reports whether the offerer sends on this m-line.
func sends(md *sdp.MediaDescription) bool {
	for _, a := range md.Attributes {
		switch a.Key {
		case "recvonly", "inactive":
			return false
		}
	}
	return true
}

// opusInSection records the Opus payload types of an audio m-line.
func opusInSection(md *sdp.MediaDescription, info *offerInfo) {
	listed := make(map[string]bool, len(md.MediaName.Formats))
	for _, f := range md.MediaName.Formats {
		listed[f] = true
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptStr, enc, ok := strings.Cut(a.Value, " ")
		if !ok || !listed[ptStr] {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 8)
		if err != nil || pt > 127 {
			continue
		}
		parts := strings.Split(strings.TrimSpace(enc), "/")
		if len(parts) < 2 || !strings.EqualFold(parts[0], "opus") || parts[1] != "48000" {
			continue
		}
		if info.channelsByPT[pt] != 0 {
			continue
		}
		info.channelsByPT[pt] = opusChannels(md, ptStr)
		info.opusPTs = append(info.opusPTs, uint8(pt))
	}
}

// opusChannels reads the channel count the sender announces for payload type
// pt. RFC 7587 fixes the rtpmap at opus/48000/2, so the fmtp decides:
// sprop-stereo=1 (or stereo=1, which some senders use alone) means 2.
func opusChannels(md *sdp.MediaDescription, pt string) uint8 {
	for _, a := range md.Attributes {
		if a.Key != "fmtp" {
			continue
		}
		p, params, ok := strings.Cut(a.Value, " ")
		if !ok || p != pt {
			continue
		}
		for _, kv := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if (strings.EqualFold(k, "sprop-stereo") || strings.EqualFold(k, "stereo")) && strings.TrimSpace(v) == "1" {
				return 2
			}
		}
	}
	return 1
}

// oneLine keeps an error text to one short line for an HTTP body.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
