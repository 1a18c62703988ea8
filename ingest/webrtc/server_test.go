package webrtc

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var locationRE = regexp.MustCompile(`^/v1/whip/studio/[0-9a-f]{32}$`)

func TestPublishReceiveDelete(t *testing.T) {
	var rec recorder
	r := newRig(t, Config{}, map[string]Publisher{"studio": rec.publisher("secret")})
	p := newPublisher(t, pubOpts{})
	resp := p.publish(r, "studio", "secret")
	if resp.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.code, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); ct != ContentTypeSDP {
		t.Errorf("Content-Type %q", ct)
	}
	if !locationRE.MatchString(p.location) {
		t.Errorf("Location %q", p.location)
	}
	if !strings.HasPrefix(p.etag, `"`) || len(p.etag) < 4 {
		t.Errorf("ETag %q", p.etag)
	}
	if !strings.HasPrefix(resp.body, "v=0") || !strings.Contains(resp.body, "a=candidate:") {
		t.Errorf("answer is not an SDP with candidates:\n%s", resp.body)
	}
	session := p.location[strings.LastIndex(p.location, "/")+1:]
	eventually(t, "server side connected", func() bool { return r.srv.Stats().Channels["studio"].Connected })

	const n = 50
	for i := 0; i < n; i++ {
		p.send(uint16(60000+i), uint32(1<<32-10*960+i*960), []byte{0xfc, byte(i)}, 0) // both counters wrap
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, "all packets", func() bool { return rec.packetCount() >= n })
	pkts, evs := rec.snapshot()
	if len(pkts) != n {
		t.Fatalf("got %d packets, want %d", len(pkts), n)
	}
	for i, pk := range pkts {
		if pk.Data[1] != byte(i) || len(pk.Data) != 2 {
			t.Fatalf("packet %d carries %x", i, pk.Data)
		}
		if pk.Channel != "studio" || pk.Session != session || pk.Channels != 1 {
			t.Fatalf("packet %d: %+v", i, pk)
		}
		if pk.Discontinuity != (i == 0) {
			t.Errorf("packet %d discontinuity %v", i, pk.Discontinuity)
		}
		if i > 0 && pk.PTS-pkts[i-1].PTS != 1800 {
			t.Errorf("packet %d PTS step %d, want 1800", i, pk.PTS-pkts[i-1].PTS)
		}
	}
	if len(evs) != 1 || !evs[0].Started || evs[0].Session != session || evs[0].Remote == "" {
		t.Fatalf("events %+v", evs)
	}
	st := r.srv.Stats()
	cs := st.Channels["studio"]
	if st.Sessions != 1 || !cs.Active || cs.Session != session || cs.Packets != n || cs.Bytes != 2*n || cs.Sessions != 1 || cs.Lost != 0 {
		t.Errorf("stats %+v", st)
	}

	if resp := do(t, http.MethodDelete, r.url(p.location), "wrong", "", ""); resp.code != http.StatusUnauthorized {
		t.Errorf("DELETE with wrong token: %d", resp.code)
	}
	if resp := do(t, http.MethodDelete, r.url(p.location), "secret", "", ""); resp.code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", resp.code, resp.body)
	}
	// DELETE returns after teardown: the end event is already there.
	if ends := rec.ended(session); len(ends) != 1 || ends[0].Reason != ReasonDeleted {
		t.Fatalf("end events %+v", ends)
	}
	if st := r.srv.Stats(); st.Sessions != 0 || st.Channels["studio"].Active {
		t.Errorf("after DELETE: %+v", st)
	}
	if resp := do(t, http.MethodDelete, r.url(p.location), "secret", "", ""); resp.code != http.StatusNotFound {
		t.Errorf("second DELETE: %d", resp.code)
	}
}

func TestRequestErrors(t *testing.T) {
	var rec recorder
	r := newRig(t, Config{MaxBodyBytes: 8 << 10}, map[string]Publisher{
		"studio": rec.publisher("secret"),
		"audio":  {Token: "secret", RejectVideo: true, OnPacket: rec.onPacket},
	})
	// Offers made by real pion clients that are never completed.
	audio := newPublisher(t, pubOpts{}).offer(true)
	dataOnly := newPublisher(t, pubOpts{dataOnly: true}).offer(true)
	videoOnly := newPublisher(t, pubOpts{noAudio: true, video: true}).offer(true)
	withVideo := newPublisher(t, pubOpts{video: true}).offer(true)
	ep := PathPrefix + "studio"

	cases := []struct {
		name, method, path, token, ctype, body string
		hdr                                    []string
		code                                   int
		header, headerWant                     string
		bodyWant                               string
		reason                                 string
	}{
		{name: "missing token", method: "POST", path: ep, ctype: ContentTypeSDP, body: audio,
			code: 401, header: "WWW-Authenticate", headerWant: "Bearer", reason: RejectAuth},
		{name: "wrong token", method: "POST", path: ep, token: "nope", ctype: ContentTypeSDP, body: audio,
			code: 401, header: "WWW-Authenticate", headerWant: `error="invalid_token"`, reason: RejectAuth},
		{name: "basic auth", method: "POST", path: ep, ctype: ContentTypeSDP, body: audio, hdr: []string{"Authorization", "Basic c2VjcmV0"},
			code: 401, header: "WWW-Authenticate", headerWant: "Bearer", reason: RejectAuth},
		{name: "wrong content type", method: "POST", path: ep, token: "secret", ctype: "application/json", body: audio,
			code: 415, header: "Accept-Post", headerWant: ContentTypeSDP, reason: RejectContentType},
		{name: "no content type", method: "POST", path: ep, token: "secret", body: audio, code: 415, reason: RejectContentType},
		{name: "unknown channel", method: "POST", path: PathPrefix + "nope", token: "secret", ctype: ContentTypeSDP, body: audio,
			code: 404, reason: RejectUnknownChannel},
		{name: "garbage SDP", method: "POST", path: ep, token: "secret", ctype: ContentTypeSDP, body: "this is not SDP",
			code: 400, bodyWant: "bad SDP offer", reason: RejectBadOffer},
		{name: "data channel only", method: "POST", path: ep, token: "secret", ctype: ContentTypeSDP, body: dataOnly,
			code: 400, bodyWant: "offer has no Opus audio", reason: RejectNoAudio},
		{name: "video only", method: "POST", path: ep, token: "secret", ctype: ContentTypeSDP, body: videoOnly,
			code: 400, bodyWant: "offer has no Opus audio", reason: RejectNoAudio},
		{name: "video rejected", method: "POST", path: PathPrefix + "audio", token: "secret", ctype: ContentTypeSDP, body: withVideo,
			code: 400, bodyWant: "video", reason: RejectVideo},
		{name: "too large", method: "POST", path: ep, token: "secret", ctype: ContentTypeSDP, body: audio + strings.Repeat("a=x:y\r\n", 2000),
			code: 413, reason: RejectTooLarge},
		{name: "GET endpoint", method: "GET", path: ep, token: "secret", code: 405, header: "Allow", headerWant: "POST"},
		{name: "GET session", method: "GET", path: ep + "/0123", token: "secret", code: 405, header: "Allow", headerWant: "DELETE"},
		{name: "DELETE unknown session", method: "DELETE", path: ep + "/00000000000000000000000000000000", token: "secret",
			code: 404, reason: RejectUnknownSession},
		{name: "DELETE unknown session without token", method: "DELETE", path: ep + "/0000", code: 401, reason: RejectAuth},
		{name: "PATCH unknown session", method: "PATCH", path: ep + "/0000", token: "secret", ctype: ContentTypeSDPFrag,
			code: 404, reason: RejectUnknownSession},
		{name: "deep path", method: "POST", path: ep + "/a/b", token: "secret", code: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.srv.Stats().Rejected[tc.reason]
			resp := do(t, tc.method, r.url(tc.path), tc.token, tc.ctype, tc.body, tc.hdr...)
			if resp.code != tc.code {
				t.Fatalf("status %d, want %d (%s)", resp.code, tc.code, resp.body)
			}
			if tc.header != "" && !strings.Contains(resp.header.Get(tc.header), tc.headerWant) {
				t.Errorf("%s: %q, want it to contain %q", tc.header, resp.header.Get(tc.header), tc.headerWant)
			}
			if !strings.Contains(resp.body, tc.bodyWant) {
				t.Errorf("body %q, want it to contain %q", resp.body, tc.bodyWant)
			}
			if strings.Count(strings.TrimSpace(resp.body), "\n") != 0 {
				t.Errorf("body is not one line: %q", resp.body)
			}
			if tc.reason != "" {
				if after := r.srv.Stats().Rejected[tc.reason]; after != before+1 {
					t.Errorf("Rejected[%s] went %d → %d", tc.reason, before, after)
				}
			}
		})
	}
	if st := r.srv.Stats(); st.Sessions != 0 {
		t.Errorf("sessions %d after rejected requests", st.Sessions)
	}
}

func TestTooLargeChunked(t *testing.T) {
	r := newRig(t, Config{MaxBodyBytes: 1024}, map[string]Publisher{"studio": {Token: "secret"}})
	body := strings.NewReader(strings.Repeat("v=0\r\n", 1000))
	req, err := http.NewRequest(http.MethodPost, r.url(PathPrefix+"studio"), struct{ *strings.Reader }{body})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked: the limit must hold while reading
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("Content-Type", ContentTypeSDP)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func TestVideoIgnored(t *testing.T) {
	var rec recorder
	r := newRig(t, Config{}, map[string]Publisher{"studio": rec.publisher("secret")})
	// A browser-like offer that sends video: the answer rejects the section.
	resp := do(t, http.MethodPost, r.url(PathPrefix+"studio"), "secret", ContentTypeSDP, newPublisher(t, pubOpts{video: true}).offer(true))
	if resp.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.code, resp.body)
	}
	if !strings.Contains(resp.body, "m=video 0 ") {
		t.Errorf("video m-line not rejected in the answer:\n%s", resp.body)
	}
	if resp := do(t, http.MethodDelete, r.url(resp.header.Get("Location")), "secret", "", ""); resp.code != http.StatusOK {
		t.Fatalf("DELETE: %d", resp.code)
	}
	// pion as a client gives up on a rejected sending video section, so
	// check the media path with a video section it only receives on.
	p := newPublisher(t, pubOpts{videoRecv: true})
	if resp := p.publish(r, "studio", "secret"); resp.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.code, resp.body)
	} else if !strings.Contains(resp.body, "m=video 0 ") {
		t.Errorf("video m-line not rejected in the answer:\n%s", resp.body)
	}
	eventually(t, "server side connected", func() bool { return r.srv.Stats().Channels["studio"].Connected })
	p.send(1, 960, []byte{1}, 0)
	eventually(t, "audio packet", func() bool { return rec.packetCount() == 1 })
}

func TestSecondPublisherConflict(t *testing.T) {
	var rec recorder
	r := newRig(t, Config{}, map[string]Publisher{"studio": rec.publisher("secret")})
	first := newPublisher(t, pubOpts{})
	if resp := first.publish(r, "studio", "secret"); resp.code != http.StatusCreated {
		t.Fatalf("first POST: %d %s", resp.code, resp.body)
	}
	second := newPublisher(t, pubOpts{})
	resp := do(t, http.MethodPost, r.url(PathPrefix+"studio"), "secret", ContentTypeSDP, second.offer(false))
	if resp.code != http.StatusConflict {
		t.Fatalf("second POST: %d %s", resp.code, resp.body)
	}
	if got := r.srv.Stats().Rejected[RejectBusy]; got != 1 {
		t.Errorf("Rejected[busy] = %d", got)
	}
	if st := r.srv.Stats(); st.Sessions != 1 || !st.Channels["studio"].Active {
		t.Errorf("first session disturbed: %+v", st)
	}
}

func TestAllowReplace(t *testing.T) {
	var rec recorder
	pub := rec.publisher("secret")
	pub.AllowReplace = true
	r := newRig(t, Config{}, map[string]Publisher{"studio": pub})
	first := newPublisher(t, pubOpts{})
	if resp := first.publish(r, "studio", "secret"); resp.code != http.StatusCreated {
		t.Fatalf("first POST: %d %s", resp.code, resp.body)
	}
	eventually(t, "first connected", func() bool { return r.srv.Stats().Channels["studio"].Connected })
	for i := 0; i < 5; i++ {
		first.send(uint16(i), uint32(i*960), []byte{1, byte(i)}, 0)
	}
	eventually(t, "first packets", func() bool { return rec.packetCount() == 5 })
	firstID := first.location[strings.LastIndex(first.location, "/")+1:]

	second := newPublisher(t, pubOpts{})
	if resp := second.publish(r, "studio", "secret"); resp.code != http.StatusCreated {
		t.Fatalf("second POST: %d %s", resp.code, resp.body)
	}
	// The old session was torn down before the new one was created.
	if ends := rec.ended(firstID); len(ends) != 1 || ends[0].Reason != ReasonReplaced {
		t.Fatalf("first session end events %+v", ends)
	}
	eventually(t, "second connected", func() bool { return r.srv.Stats().Channels["studio"].Connected })
	for i := 0; i < 5; i++ {
		second.send(uint16(30000+i), uint32(777+i*960), []byte{2, byte(i)}, 0)
	}
	eventually(t, "second packets", func() bool { return rec.packetCount() == 10 })
	pkts, _ := rec.snapshot()
	for i := 1; i < len(pkts); i++ {
		if pkts[i].PTS <= pkts[i-1].PTS {
			t.Errorf("PTS went %d → %d at packet %d", pkts[i-1].PTS, pkts[i].PTS, i)
		}
	}
	if !pkts[5].Discontinuity || pkts[5].Data[0] != 2 || pkts[5].Session == firstID {
		t.Errorf("first packet of the second session: %+v", pkts[5])
	}
	if st := r.srv.Stats(); st.Sessions != 1 || st.Channels["studio"].Sessions != 2 {
		t.Errorf("stats %+v", st)
	}
	// The replaced publisher's DELETE now finds nothing.
	if resp := do(t, http.MethodDelete, r.url(first.location), "secret", "", ""); resp.code != http.StatusNotFound {
		t.Errorf("DELETE of replaced session: %d", resp.code)
	}
}

func TestMaxSessions(t *testing.T) {
	r := newRig(t, Config{MaxSessions: 1}, map[string]Publisher{"a": {Token: "t"}, "b": {Token: "t"}})
	offer := newPublisher(t, pubOpts{}).offer(true)
	if resp := do(t, http.MethodPost, r.url(PathPrefix+"a"), "t", ContentTypeSDP, offer); resp.code != http.StatusCreated {
		t.Fatalf("first POST: %d %s", resp.code, resp.body)
	}
	resp := do(t, http.MethodPost, r.url(PathPrefix+"b"), "t", ContentTypeSDP, offer)
	if resp.code != http.StatusServiceUnavailable || resp.header.Get("Retry-After") != "5" {
		t.Fatalf("second POST: %d Retry-After %q", resp.code, resp.header.Get("Retry-After"))
	}
	if got := r.srv.Stats().Rejected[RejectFull]; got != 1 {
		t.Errorf("Rejected[full] = %d", got)
	}
}

func TestPatch(t *testing.T) {
	r := newRig(t, Config{}, map[string]Publisher{"studio": {Token: "secret"}})
	offer := newPublisher(t, pubOpts{}).offer(true)
	resp := do(t, http.MethodPost, r.url(PathPrefix+"studio"), "secret", ContentTypeSDP, offer)
	if resp.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.code, resp.body)
	}
	loc, etag := resp.header.Get("Location"), resp.header.Get("ETag")
	if resp.header.Get("Accept-Patch") != ContentTypeSDPFrag {
		t.Errorf("Accept-Patch %q", resp.header.Get("Accept-Patch"))
	}
	frag := "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
	cases := []struct {
		name, token, ctype, ifMatch, body string
		code                              int
	}{
		{"no token", "", ContentTypeSDPFrag, etag, frag, 401},
		{"wrong content type", "secret", ContentTypeSDP, etag, frag, 415},
		{"ICE restart", "secret", ContentTypeSDPFrag, `"*"`, frag, 422},
		{"ICE restart bare star", "secret", ContentTypeSDPFrag, `*`, frag, 422},
		{"stale ETag", "secret", ContentTypeSDPFrag, `"0000"`, frag, 412},
		{"missing If-Match", "secret", ContentTypeSDPFrag, "", frag, 412},
		{"bad candidate", "secret", ContentTypeSDPFrag, etag, "a=candidate:garbage\r\n", 400},
		{"trickle", "secret", ContentTypeSDPFrag, etag, frag, 204},
		{"end of candidates only", "secret", ContentTypeSDPFrag, etag, "a=end-of-candidates\r\n", 204},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ifMatch != "" {
				hdr = []string{"If-Match", tc.ifMatch}
			}
			resp := do(t, http.MethodPatch, r.url(loc), tc.token, tc.ctype, tc.body, hdr...)
			if resp.code != tc.code {
				t.Fatalf("status %d, want %d (%s)", resp.code, tc.code, resp.body)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	r := newRig(t, Config{AllowedOrigins: []string{"https://studio.example"}, ICE: ICEConfig{
		Loopback: true, Interfaces: []string{"lo"}, STUNServers: []string{"stun:stun.example.net:3478"},
	}}, map[string]Publisher{"studio": {Token: "secret"}})
	resp := do(t, http.MethodOptions, r.url(PathPrefix+"studio"), "", "", "", "Origin", "https://studio.example",
		"Access-Control-Request-Method", "POST")
	if resp.code != http.StatusNoContent {
		t.Fatalf("OPTIONS: %d", resp.code)
	}
	h := resp.header
	for k, want := range map[string]string{
		"Accept-Post":                   ContentTypeSDP,
		"Access-Control-Allow-Origin":   "https://studio.example",
		"Access-Control-Allow-Methods":  "POST, DELETE, PATCH, OPTIONS",
		"Access-Control-Allow-Headers":  "Authorization, Content-Type, If-Match",
		"Access-Control-Expose-Headers": "Location, ETag, Accept-Patch",
		"Link":                          `<stun:stun.example.net:3478>; rel="ice-server"`,
	} {
		if !strings.Contains(h.Get(k), want) {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	// A foreign origin gets no CORS headers (the browser then refuses).
	resp = do(t, http.MethodOptions, r.url(PathPrefix+"studio"), "", "", "", "Origin", "https://evil.example")
	if resp.code != http.StatusNoContent || resp.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin: %d %v", resp.code, resp.header)
	}
	// Other responses carry the CORS headers too, errors included.
	resp = do(t, http.MethodPost, r.url(PathPrefix+"studio"), "", ContentTypeSDP, "x", "Origin", "https://studio.example")
	if resp.code != 401 || resp.header.Get("Access-Control-Allow-Origin") != "https://studio.example" ||
		!strings.Contains(resp.header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("POST from allowed origin: %d %v", resp.code, resp.header)
	}

	any := newRig(t, Config{AllowedOrigins: []string{"*"}}, map[string]Publisher{"studio": {Token: "secret"}})
	resp = do(t, http.MethodOptions, any.url(PathPrefix+"studio"), "", "", "", "Origin", "https://anything.example")
	if resp.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("wildcard: %v", resp.header)
	}
	none := newRig(t, Config{}, map[string]Publisher{"studio": {Token: "secret"}})
	resp = do(t, http.MethodOptions, none.url(PathPrefix+"studio"), "", "", "", "Origin", "https://anything.example")
	if resp.code != http.StatusNoContent || resp.header.Get("Access-Control-Allow-Origin") != "" || resp.header.Get("Accept-Post") != ContentTypeSDP {
		t.Errorf("no CORS configured: %d %v", resp.code, resp.header)
	}
}

func TestLossAndReorder(t *testing.T) {
	var rec recorder
	r := newRig(t, Config{}, map[string]Publisher{"studio": rec.publisher("secret")})
	p := newPublisher(t, pubOpts{})
	if resp := p.publish(r, "studio", "secret"); resp.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.code, resp.body)
	}
	eventually(t, "server side connected", func() bool { return r.srv.Stats().Channels["studio"].Connected })

	// 0..39 with 10/11 swapped, 20 and 21 never sent, 30 padding only.
	order := []int{}
	for i := 0; i < 40; i++ {
		switch i {
		case 10:
			order = append(order, 11, 10)
		case 11, 20, 21:
		default:
			order = append(order, i)
		}
	}
	for _, i := range order {
		var padding byte
		payload := []byte{0xfc, byte(i)}
		if i == 30 {
			payload, padding = nil, 4
		}
		p.send(uint16(i), uint32(i*960), payload, padding)
		time.Sleep(2 * time.Millisecond)
	}
	want := []int{}
	for i := 0; i < 40; i++ {
		if i != 20 && i != 21 && i != 30 {
			want = append(want, i)
		}
	}
	eventually(t, "packets", func() bool { return rec.packetCount() >= len(want) })
	pkts, _ := rec.snapshot()
	var got []int
	for _, pk := range pkts {
		got = append(got, int(pk.Data[1]))
		id := int(pk.Data[1])
		if pk.Discontinuity != (id == 0 || id == 22) {
			t.Errorf("packet %d discontinuity %v", id, pk.Discontinuity)
		}
		if pk.PTS != pkts[0].PTS+int64(id)*1800 {
			t.Errorf("packet %d PTS %d, want %d", id, pk.PTS, pkts[0].PTS+int64(id)*1800)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("received %v\nwant     %v", got, want)
	}
	cs := r.srv.Stats().Channels["studio"]
	if cs.Lost != 2 || cs.Reordered != 1 || cs.Discontinuities != 2 {
		t.Errorf("stats %+v", cs)
	}
}

// TestSetupFloodReaped posts offers that never complete ICE (no candidates,
// no trickle): every session is reaped after SetupTimeout and no goroutine
// is left behind.
func TestSetupFloodReaped(t *testing.T) {
	const n = 20
	var rec recorder
	pubs := map[string]Publisher{}
	for i := 0; i < n; i++ {
		pubs[fmt.Sprint("ch", i)] = rec.publisher("secret")
	}
	r := newRig(t, Config{MaxSessions: n, SetupTimeout: time.Second}, pubs)
	client := newPublisher(t, pubOpts{})
	offer := client.offer(true)
	if err := client.pc.GracefulClose(); err != nil {
		t.Fatal(err)
	}
	baseline := goleak.IgnoreCurrent()

	for i := 0; i < n; i++ {
		resp := do(t, http.MethodPost, r.url(PathPrefix+fmt.Sprint("ch", i)), "secret", ContentTypeSDP, offer)
		if resp.code != http.StatusCreated {
			t.Fatalf("POST %d: %d %s", i, resp.code, resp.body)
		}
	}
	eventually(t, "reaping", func() bool { st := r.srv.Stats(); return st.Sessions == 0 })
	st := r.srv.Stats()
	if st.Reaped != n {
		t.Errorf("reaped %d, want %d", st.Reaped, n)
	}
	_, evs := rec.snapshot()
	ends := 0
	for _, e := range evs {
		if !e.Started {
			ends++
			if e.Reason != ReasonSetupTimeout {
				t.Errorf("end reason %q", e.Reason)
			}
		}
	}
	if ends != n || len(evs) != 2*n {
		t.Errorf("%d events, %d ends", len(evs), ends)
	}
	if err := goleak.Find(baseline); err != nil {
		t.Fatalf("goroutines left after reaping: %v", err)
	}
}

func TestRemovePublisherAndClose(t *testing.T) {
	var rec recorder
	r := newRig(t, Config{}, map[string]Publisher{"a": rec.publisher("secret"), "b": rec.publisher("secret")})
	pa := newPublisher(t, pubOpts{})
	pb := newPublisher(t, pubOpts{})
	if resp := pa.publish(r, "a", "secret"); resp.code != http.StatusCreated {
		t.Fatal(resp.code, resp.body)
	}
	if resp := pb.publish(r, "b", "secret"); resp.code != http.StatusCreated {
		t.Fatal(resp.code, resp.body)
	}
	idA := pa.location[strings.LastIndex(pa.location, "/")+1:]
	idB := pb.location[strings.LastIndex(pb.location, "/")+1:]

	// A reload that changes the token keeps the session.
	upd := rec.publisher("new-secret")
	r.srv.SetPublisher("b", upd)
	if st := r.srv.Stats(); !st.Channels["b"].Active {
		t.Fatal("update dropped the session")
	}

	r.srv.RemovePublisher("a")
	if ends := rec.ended(idA); len(ends) != 1 || ends[0].Reason != ReasonRemoved {
		t.Fatalf("a: %+v", ends)
	}
	if _, ok := r.srv.Stats().Channels["a"]; ok {
		t.Error("removed channel still in stats")
	}
	if resp := do(t, http.MethodPost, r.url(PathPrefix+"a"), "secret", ContentTypeSDP, "v=0"); resp.code != http.StatusNotFound {
		t.Errorf("POST to removed channel: %d", resp.code)
	}
	if resp := do(t, http.MethodDelete, r.url(pb.location), "secret", "", ""); resp.code != http.StatusUnauthorized {
		t.Errorf("DELETE with the old token: %d", resp.code)
	}

	if err := r.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if ends := rec.ended(idB); len(ends) != 1 || ends[0].Reason != ReasonServerClosed {
		t.Fatalf("b: %+v", ends)
	}
	if st := r.srv.Stats(); st.Sessions != 0 {
		t.Errorf("sessions after Close: %d", st.Sessions)
	}
	resp := do(t, http.MethodPost, r.url(PathPrefix+"b"), "new-secret", ContentTypeSDP, newPublisher(t, pubOpts{}).offer(true))
	if resp.code != http.StatusServiceUnavailable {
		t.Errorf("POST after Close: %d", resp.code)
	}
}

func TestPeerCloseEndsSession(t *testing.T) {
	var rec recorder
	r := newRig(t, Config{}, map[string]Publisher{"studio": rec.publisher("secret")})
	p := newPublisher(t, pubOpts{})
	if resp := p.publish(r, "studio", "secret"); resp.code != http.StatusCreated {
		t.Fatal(resp.code, resp.body)
	}
	id := p.location[strings.LastIndex(p.location, "/")+1:]
	eventually(t, "server side connected", func() bool { return r.srv.Stats().Channels["studio"].Connected })
	if err := p.pc.GracefulClose(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "session end", func() bool { return len(rec.ended(id)) == 1 })
	if e := rec.ended(id)[0]; e.Reason != ReasonClosed && e.Reason != ReasonFailed {
		t.Errorf("reason %q", e.Reason)
	}
	eventually(t, "slot released", func() bool { return r.srv.Stats().Sessions == 0 })
}

func TestNewServerValidation(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"port range reversed", Config{ICE: ICEConfig{UDPPortMin: 20000, UDPPortMax: 10000}}, "ICE.UDPPortMin/UDPPortMax"},
		{"port range half", Config{ICE: ICEConfig{UDPPortMin: 20000}}, "ICE.UDPPortMin/UDPPortMax"},
		{"bad NAT IP", Config{ICE: ICEConfig{NAT1To1IPs: []string{"203.0.113.5", "not-an-ip"}}}, "ICE.NAT1To1IPs[1]"},
		{"bad NAT local", Config{ICE: ICEConfig{NAT1To1IPs: []string{"203.0.113.5/x"}}}, "ICE.NAT1To1IPs[0]"},
		{"bad STUN URL", Config{ICE: ICEConfig{STUNServers: []string{"http://example.com"}}}, "ICE.STUNServers[0]"},
		{"TURN as STUN", Config{ICE: ICEConfig{STUNServers: []string{"turn:example.com:3478"}}}, "ICE.STUNServers[0]"},
		{"unknown interface", Config{ICE: ICEConfig{Interfaces: []string{"nosuchif0"}}}, "ICE.Interfaces[0]"},
		{"bad origin", Config{AllowedOrigins: []string{"studio.example"}}, "AllowedOrigins[0]"},
		{"negative max sessions", Config{MaxSessions: -1}, "MaxSessions"},
		{"negative timeout", Config{SetupTimeout: -time.Second}, "SetupTimeout"},
		{"negative body", Config{MaxBodyBytes: -1}, "MaxBodyBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(tc.cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err %v, want ErrConfig naming %s", err, tc.field)
			}
		})
	}
	good := Config{
		AllowedOrigins: []string{"https://studio.example", "http://localhost:8080"},
		ICE: ICEConfig{UDPPortMin: 40000, UDPPortMax: 40100, NAT1To1IPs: []string{"203.0.113.5", "2001:db8::1", "198.51.100.7/10.0.0.7"},
			STUNServers: []string{"stun:stun.example.net:3478"}, Interfaces: []string{"lo"}},
	}
	s, err := NewServer(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
