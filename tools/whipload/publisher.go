package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pwebrtc "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// publisherAPI is a lean pion API for the publishers: Opus only, no
// interceptors, loopback ICE.
func publisherAPI() *pwebrtc.API {
	me := &pwebrtc.MediaEngine{}
	_ = me.RegisterCodec(pwebrtc.RTPCodecParameters{
		RTPCodecCapability: pwebrtc.RTPCodecCapability{MimeType: pwebrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, pwebrtc.RTPCodecTypeAudio)
	se := pwebrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pwebrtc.NetworkType{pwebrtc.NetworkTypeUDP4})
	return pwebrtc.NewAPI(pwebrtc.WithMediaEngine(me), pwebrtc.WithSettingEngine(se),
		pwebrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

// loadPublisher is one WHIP publisher.
type loadPublisher struct {
	pc        *pwebrtc.PeerConnection
	track     *pwebrtc.TrackLocalStaticSample
	connected chan struct{}
	location  string
	token     string
	base      string
}

func newLoadPublisher(api *pwebrtc.API, url, token string) (*loadPublisher, error) {
	pc, err := api.NewPeerConnection(pwebrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &loadPublisher{pc: pc, connected: make(chan struct{}), token: token}
	var closed atomic.Bool
	pc.OnConnectionStateChange(func(s pwebrtc.PeerConnectionState) {
		if s == pwebrtc.PeerConnectionStateConnected && closed.CompareAndSwap(false, true) {
			close(p.connected)
		}
	})
	p.track, err = pwebrtc.NewTrackLocalStaticSample(pwebrtc.RTPCodecCapability{MimeType: pwebrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whipload")
	if err != nil {
		p.close()
		return nil, err
	}
	if _, err := pc.AddTransceiverFromTrack(p.track, pwebrtc.RTPTransceiverInit{Direction: pwebrtc.RTPTransceiverDirectionSendonly}); err != nil {
		p.close()
		return nil, err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		p.close()
		return nil, err
	}
	gathered := pwebrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		p.close()
		return nil, err
	}
	<-gathered
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		p.close()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.close()
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		p.close()
		return nil, fmt.Errorf("POST: %d %s %v", resp.StatusCode, strings.TrimSpace(string(body)), err)
	}
	p.location = resp.Header.Get("Location")
	p.base = url[:strings.Index(url, "/v1/")]
	if err := pc.SetRemoteDescription(pwebrtc.SessionDescription{Type: pwebrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// send writes the packets at real time, looping, until ctx ends. It waits
// for the connection first; offset staggers the senders.
func (p *loadPublisher) send(ctx context.Context, pkts []opusPacket, offset time.Duration, sent *atomic.Uint64) {
	select {
	case <-p.connected:
	case <-ctx.Done():
		return
	}
	next := time.Now().Add(offset)
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for i := 0; ; i = (i + 1) % len(pkts) {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		pk := pkts[i]
		if err := p.track.WriteSample(media.Sample{Data: pk.data, Duration: pk.dur}); err == nil {
			sent.Add(1)
		}
		next = next.Add(pk.dur)
		timer.Reset(time.Until(next))
	}
}

// close ends the session (DELETE) and the peer connection.
func (p *loadPublisher) close() {
	if p.location != "" {
		req, err := http.NewRequest(http.MethodDelete, p.base+p.location, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+p.token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	_ = p.pc.Close()
}
