package webrtc

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	pwebrtc "github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait is the generous deadline for events in these tests; it only bounds a
// test that would otherwise hang, it asserts nothing about speed.
const wait = 30 * time.Second

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// recorder collects what the server hands to a channel's callbacks.
type recorder struct {
	mu      sync.Mutex
	packets []Packet
	events  []SessionEvent
}

func (r *recorder) onPacket(p Packet) {
	r.mu.Lock()
	r.packets = append(r.packets, p)
	r.mu.Unlock()
}

func (r *recorder) onSession(e SessionEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([]Packet, []SessionEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Packet(nil), r.packets...), append([]SessionEvent(nil), r.events...)
}

func (r *recorder) packetCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.packets)
}

// ended returns the end events for a session.
func (r *recorder) ended(session string) []SessionEvent {
	_, evs := r.snapshot()
	var out []SessionEvent
	for _, e := range evs {
		if e.Session == session && !e.Started {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) publisher(token string) Publisher {
	return Publisher{Token: token, OnPacket: r.onPacket, OnSession: r.onSession}
}

type rig struct {
	srv  *Server
	http *httptest.Server
}

func loopbackICE() ICEConfig {
	return ICEConfig{Loopback: true, Interfaces: []string{"lo"}}
}

// newRig starts a server on an httptest listener; both are closed at cleanup.
func newRig(t *testing.T, cfg Config, pubs map[string]Publisher) *rig {
	t.Helper()
	if cfg.ICE.Interfaces == nil {
		cfg.ICE = loopbackICE()
	}
	cfg.Logger = testLogger()
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range pubs {
		srv.SetPublisher(name, p)
	}
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	return &rig{srv: srv, http: hs}
}

func (r *rig) url(path string) string { return r.http.URL + path }

type response struct {
	code   int
	header http.Header
	body   string
}

// do sends one request and reads the whole response.
func do(t *testing.T, method, url, token, contentType, body string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// clientAPI is the publisher side: Opus (and VP8 for video offers), loopback
// ICE only.
func clientAPI(t *testing.T) *pwebrtc.API {
	t.Helper()
	me := &pwebrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := pwebrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pwebrtc.NetworkType{pwebrtc.NetworkTypeUDP4})
	se.LoggerFactory = slogFactory{testLogger()}
	return pwebrtc.NewAPI(pwebrtc.WithMediaEngine(me), pwebrtc.WithSettingEngine(se))
}

// publisher is an in-process pion WHIP client.
type publisher struct {
	t         *testing.T
	pc        *pwebrtc.PeerConnection
	audio     *pwebrtc.TrackLocalStaticRTP
	connected chan struct{}
	location  string
	etag      string
}

type pubOpts struct {
	video     bool // add a VP8 track
	videoRecv bool // add a receive-only video section
	noAudio   bool
	dataOnly  bool // only a data channel
}

func newPublisher(t *testing.T, o pubOpts) *publisher {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(pwebrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{t: t, pc: pc, connected: make(chan struct{})}
	t.Cleanup(func() { _ = pc.GracefulClose() })
	var once sync.Once
	pc.OnConnectionStateChange(func(s pwebrtc.PeerConnectionState) {
		if s == pwebrtc.PeerConnectionStateConnected {
			once.Do(func() { close(p.connected) })
		}
	})
	if !o.noAudio && !o.dataOnly {
		p.audio, err = pwebrtc.NewTrackLocalStaticRTP(pwebrtc.RTPCodecCapability{MimeType: pwebrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whip-test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(p.audio, pwebrtc.RTPTransceiverInit{Direction: pwebrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	if o.video {
		v, err := pwebrtc.NewTrackLocalStaticRTP(pwebrtc.RTPCodecCapability{MimeType: pwebrtc.MimeTypeVP8, ClockRate: 90000}, "video", "whip-test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(v, pwebrtc.RTPTransceiverInit{Direction: pwebrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	if o.videoRecv {
		if _, err := pc.AddTransceiverFromKind(pwebrtc.RTPCodecTypeVideo, pwebrtc.RTPTransceiverInit{Direction: pwebrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	if o.dataOnly {
		if _, err := pc.CreateDataChannel("x", nil); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// offer makes the SDP offer, with its candidates unless noGather.
func (p *publisher) offer(noGather bool) string {
	p.t.Helper()
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if noGather {
		return offer.SDP
	}
	gathered := pwebrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(wait):
		p.t.Fatal("client gathering did not complete")
	}
	return p.pc.LocalDescription().SDP
}

// publish POSTs the offer, applies the answer and waits until connected.
func (p *publisher) publish(r *rig, channel, token string) response {
	p.t.Helper()
	resp := do(p.t, http.MethodPost, r.url(PathPrefix+channel), token, ContentTypeSDP, p.offer(false))
	if resp.code != http.StatusCreated {
		return resp
	}
	p.location = resp.header.Get("Location")
	p.etag = resp.header.Get("ETag")
	if err := p.pc.SetRemoteDescription(pwebrtc.SessionDescription{Type: pwebrtc.SDPTypeAnswer, SDP: resp.body}); err != nil {
		p.t.Fatalf("client SetRemoteDescription: %v", err)
	}
	select {
	case <-p.connected:
	case <-time.After(wait):
		p.t.Fatal("client did not connect")
	}
	return resp
}

// send writes one RTP packet; payload id identifies it at the receiver.
func (p *publisher) send(seq uint16, ts uint32, payload []byte, padding byte) {
	p.t.Helper()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
	if padding > 0 {
		pkt.Header.Padding = true
		pkt.Header.PaddingSize = padding
	}
	if err := p.audio.WriteRTP(pkt); err != nil {
		p.t.Fatalf("WriteRTP: %v", err)
	}
}
