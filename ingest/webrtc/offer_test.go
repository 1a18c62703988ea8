package webrtc

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func browserOffer(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/browser-offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// audioOnly cuts the offer before its video section.
func audioOnly(sdp string) string {
	i := strings.Index(sdp, "m=video")
	return strings.Replace(sdp[:i], "a=group:BUNDLE 0 1", "a=group:BUNDLE 0", 1)
}

// videoOnly keeps the session part and the video section.
func videoOnly(sdp string) string {
	a := strings.Index(sdp, "m=audio")
	v := strings.Index(sdp, "m=video")
	return strings.Replace(sdp[:a]+sdp[v:], "a=group:BUNDLE 0 1", "a=group:BUNDLE 1", 1)
}

const dataChannelOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=mid:0\r\n" +
	"a=sctp-port:5000\r\n"

func TestValidateOffer(t *testing.T) {
	full := browserOffer(t)
	audio := audioOnly(full)
	many := audio
	for i := 0; i < MaxMediaSections; i++ {
		many += "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
	}
	cases := []struct {
		name        string
		sdp         string
		rejectVideo bool
		err         error
		errText     string
		video       bool
		chans       uint8
	}{
		{name: "browser audio+video, video ignored", sdp: full, video: true, chans: 1},
		{name: "browser audio+video, video rejected", sdp: full, rejectVideo: true, err: ErrVideoRejected},
		{name: "audio only", sdp: audio, rejectVideo: true, chans: 1},
		{name: "stereo", sdp: strings.Replace(audio, "a=fmtp:111 minptime=10;useinbandfec=1",
			"a=fmtp:111 minptime=10;useinbandfec=1; sprop-stereo=1", 1), chans: 2},
		{name: "upper-case OPUS", sdp: strings.Replace(audio, "opus/48000/2", "OPUS/48000/2", 1), chans: 1},
		{name: "recvonly audio", sdp: strings.Replace(audio, "a=sendonly", "a=recvonly", 1), err: ErrNoAudio, errText: "offer has no Opus audio"},
		{name: "audio port 0", sdp: strings.Replace(audio, "m=audio 9", "m=audio 0", 1), err: ErrNoAudio},
		{name: "no opus", sdp: strings.Replace(audio, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 PCMU/8000", 1), err: ErrNoAudio},
		{name: "opus at wrong rate", sdp: strings.Replace(audio, "opus/48000/2", "opus/16000/2", 1), err: ErrNoAudio},
		{name: "opus rtpmap not in m-line", sdp: strings.Replace(audio, "SAVPF 111 63", "SAVPF 63", 1), err: ErrNoAudio},
		{name: "data channel only", sdp: dataChannelOffer, err: ErrNoAudio, errText: "offer has no Opus audio"},
		{name: "video only", sdp: videoOnly(full), err: ErrNoAudio},
		{name: "video only rejected", sdp: videoOnly(full), rejectVideo: true, err: ErrVideoRejected},
		{name: "garbage", sdp: "hello, this is not SDP", err: ErrBadOffer},
		{name: "binary garbage", sdp: "\x00\xff\x01v=0\r\n", err: ErrBadOffer},
		{name: "empty", sdp: "", err: ErrBadOffer},
		{name: "session only", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", err: ErrNoAudio},
		{name: "too many m-lines", sdp: many, err: ErrBadOffer, errText: "media sections"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := validateOffer([]byte(tc.sdp), tc.rejectVideo)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err %q does not mention %q", err, tc.errText)
				}
				if strings.ContainsAny(err.Error(), "\r\n") {
					t.Fatalf("err %q is not one line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if info.hasVideo != tc.video {
				t.Errorf("hasVideo %v, want %v", info.hasVideo, tc.video)
			}
			if len(info.opusPTs) != 1 || info.opusPTs[0] != 111 {
				t.Fatalf("opus payload types %v, want [111]", info.opusPTs)
			}
			if got := info.channelsByPT[111]; got != tc.chans {
				t.Errorf("channels %d, want %d", got, tc.chans)
			}
		})
	}
}

func TestParseSDPFrag(t *testing.T) {
	body := "a=ice-ufrag:abcd\r\na=ice-pwd:xyz\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n" +
		"a=candidate:2 1 udp 2130706431 ::1 50001 typ host\r\na=end-of-candidates\r\n"
	cands, err := parseSDPFrag([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 2 || cands[0].SDPMid == nil || *cands[0].SDPMid != "0" ||
		cands[1].Candidate != "candidate:2 1 udp 2130706431 ::1 50001 typ host" {
		t.Fatalf("parsed %+v", cands)
	}
	if _, err := parseSDPFrag([]byte(strings.Repeat("a=candidate:1 1 udp 1 127.0.0.1 1 typ host\n", maxPatchCandidates+1))); err == nil {
		t.Fatal("no error for too many candidates")
	}
}

// FuzzOffer checks that offer validation never panics, that every error is
// one of the sentinels with a one-line text, and that an accepted offer
// really has Opus audio within the limits.
func FuzzOffer(f *testing.F) {
	f.Add([]byte(browserOffer(f)), false)
	f.Add([]byte(audioOnly(browserOffer(f))), true)
	f.Add([]byte(dataChannelOffer), false)
	f.Add([]byte("not sdp"), false)
	f.Fuzz(func(t *testing.T, body []byte, rejectVideo bool) {
		info, err := validateOffer(body, rejectVideo)
		if err != nil {
			if !errors.Is(err, ErrBadOffer) && !errors.Is(err, ErrNoAudio) && !errors.Is(err, ErrVideoRejected) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q is not one line", err)
			}
			return
		}
		if len(info.opusPTs) == 0 || info.mediaSections > MaxMediaSections || info.mediaSections == 0 {
			t.Fatalf("accepted %+v", info)
		}
		if rejectVideo && info.hasVideo {
			t.Fatal("accepted video with rejectVideo")
		}
		for _, pt := range info.opusPTs {
			if c := info.channelsByPT[pt]; c != 1 && c != 2 {
				t.Fatalf("payload type %d has %d channels", pt, c)
			}
		}
	})
}
