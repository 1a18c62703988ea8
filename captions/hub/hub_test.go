package hub

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/decoder"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	verbatim = decoder.TrackVerbatim
	subtitle = decoder.TrackSubtitle
)

var fixedClock = func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 500e6, time.UTC) }

// TestMessagesGolden pins the exact JSON of every message type.
func TestMessagesGolden(t *testing.T) {
	ts := newTestServer(t, Options{Clock: fixedClock, Channel: ChannelOptions{RingSize: 3}})
	ch := ts.hub.Channel("news")
	for id := uint64(1); id <= 5; id++ {
		mustPublish(t, ch, testCue(verbatim, id))
	}
	if err := ch.PublishPartial(captions.Partial{Track: verbatim, Segment: 9,
		Lines: []string{`Tom & "Jerry" <live>`}, Start: 540000, End: 567000}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.feed("news", "track=verbatim&since=2"), nil)
	var got []string
	for _, m := range readUntilCue(t, c, 5) {
		got = append(got, string(m.raw))
	}
	got = append(got, string(readMsg(t, c).raw)) // the partial
	mustPublish(t, ch, captions.Cue{ID: 6, Track: verbatim, Lines: []string{"Grüße, 日本"}, Start: 1, End: 90001})
	if err := ch.PublishGap(900000, 1350000, "overload"); err != nil {
		t.Fatal(err)
	}
	if err := ch.EOS(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got = append(got, string(readMsg(t, c).raw))
	}
	golden(t, "messages.golden", strings.Join(got, "\n")+"\n")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update if intended)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestTwoClientsIdentical: two clients see the same cue messages, byte for
// byte, while partials and cues are published concurrently.
func TestTwoClientsIdentical(t *testing.T) {
	ts := newTestServer(t, Options{Channel: ChannelOptions{Queue: 4096}})
	ch := ts.hub.Channel("a")
	const n = 300
	a := dial(t, ts.feed("a", ""), nil)
	b := dial(t, ts.feed("a", "track=verbatim"), nil)
	ha, hb := readMsg(t, a), readMsg(t, b)
	if ha.Type != TypeHello || hb.Type != TypeHello || ha.LastID != 0 || ha.Track != verbatim {
		t.Fatalf("hellos %+v %+v", ha, hb)
	}
	go func() {
		for id := uint64(1); id <= n; id++ {
			_ = ch.PublishPartial(captions.Partial{Track: verbatim, Lines: []string{fmt.Sprint("partial ", id)}})
			_ = ch.PublishCue(testCue(verbatim, id))
		}
	}()
	var wg sync.WaitGroup
	res := make([][]string, 2)
	for i, c := range []*websocket.Conn{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := tryRead(c)
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				if m.Type == TypeCue {
					res[i] = append(res[i], string(m.raw))
					if m.ID == n {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(res[0]) != n || !slices.Equal(res[0], res[1]) {
		t.Fatalf("clients differ: %d and %d cues", len(res[0]), len(res[1]))
	}
}

// TestResumeAfterDisconnect: a client that drops mid-stream and reconnects
// with since=<last+1> ends up with every cue exactly once, while the
// publisher never pauses.
func TestResumeAfterDisconnect(t *testing.T) {
	ts := newTestServer(t, Options{Channel: ChannelOptions{Queue: 4096}})
	ch := ts.hub.Channel("a")
	const n = 400
	c := dial(t, ts.feed("a", "track=subtitle&since=1"), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for id := uint64(1); id <= n; id++ {
			_ = ch.PublishCue(testCue(subtitle, id))
			if id%8 == 0 {
				time.Sleep(100 * time.Microsecond) // let the client drop mid-stream
			}
		}
	}()
	var ids []uint64
	for len(ids) < n/4 {
		if m := readMsg(t, c); m.Type == TypeCue {
			ids = append(ids, m.ID)
		}
	}
	c.Close()
	c2 := dial(t, ts.feed("a", fmt.Sprintf("track=subtitle&since=%d", ids[len(ids)-1]+1)), nil)
	ids = append(ids, cueIDs(readUntilCue(t, c2, n))...)
	<-done
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("cue %d has id %d; ids %v", i, id, ids)
		}
	}
	if len(ids) != n {
		t.Fatalf("got %d cues, want %d", len(ids), n)
	}
}

// TestResumeConcurrentConnects: clients connecting with and without since
// while cues are published get every cue from their start exactly once.
func TestResumeConcurrentConnects(t *testing.T) {
	ts := newTestServer(t, Options{MaxClientsPerIP: -1, Channel: ChannelOptions{Queue: 4096, RingSize: 2000}})
	ch := ts.hub.Channel("a")
	const n, clients = 600, 12
	published := make(chan uint64, n)
	go func() {
		for id := uint64(1); id <= n; id++ {
			if err := ch.PublishCue(testCue(verbatim, id)); err != nil {
				t.Error(err)
			}
			published <- id
		}
		close(published)
	}()
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range clients {
		// Connect when about i/clients of the cues are out.
		for id := range published {
			if id >= uint64(i*n/clients) {
				break
			}
		}
		query, since := "", uint64(0)
		if i%3 != 0 {
			since = rng.Uint64N(uint64(i*n/clients) + 2)
			query = fmt.Sprintf("since=%d", since)
		}
		c := dial(t, ts.feed("a", query), nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := tryRead(c)
			if err != nil || h.Type != TypeHello {
				t.Errorf("client %d: hello %+v %v", i, h, err)
				return
			}
			first := h.LastID + 1
			if query != "" {
				first = max(since, 1)
				if h.Replay != int(h.LastID+1-first) {
					t.Errorf("client %d: hello %+v announces %d replayed", i, h, h.Replay)
				}
			}
			want := first
			for want <= n {
				m, err := tryRead(c)
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				if m.Type != TypeCue {
					t.Errorf("client %d: unexpected %s", i, m.raw)
					return
				}
				if m.ID != want {
					t.Errorf("client %d (since %d, hello last %d): got cue %d, want %d", i, since, h.LastID, m.ID, want)
					return
				}
				want++
			}
		}()
	}
	for range published {
	}
	wg.Wait()
}

func TestResumeGap(t *testing.T) {
	for _, tc := range []struct {
		query            string
		lostFrom, lostTo uint64 // 0, 0: no gap
		replay           []uint64
	}{
		{"", 0, 0, nil},
		{"since=0", 0, 15, []uint64{16, 17, 18, 19, 20}},
		{"since=3", 3, 15, []uint64{16, 17, 18, 19, 20}},
		{"since=15", 15, 15, []uint64{16, 17, 18, 19, 20}},
		{"since=16", 0, 0, []uint64{16, 17, 18, 19, 20}},
		{"since=19", 0, 0, []uint64{19, 20}},
		{"since=21", 0, 0, nil},
		{"since=99", 0, 0, nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			ts := newTestServer(t, Options{Channel: ChannelOptions{RingSize: 5}})
			ch := ts.hub.Channel("a")
			for id := uint64(1); id <= 20; id++ {
				mustPublish(t, ch, testCue(verbatim, id))
			}
			c := dial(t, ts.feed("a", tc.query), nil)
			h := readMsg(t, c)
			if h.Type != TypeHello || h.LastID != 20 || h.RetainedFrom != 16 || h.RetainedTo != 20 || h.Replay != len(tc.replay) {
				t.Fatalf("hello %s", h.raw)
			}
			if tc.lostTo != 0 {
				g := readMsg(t, c)
				if g.Type != TypeGap || g.Reason != GapResume || g.LostFrom == nil || *g.LostFrom != tc.lostFrom || *g.LostTo != tc.lostTo {
					t.Fatalf("gap %s", g.raw)
				}
			}
			if got := ts.hub.Stats().ResumeGaps; got != map[bool]uint64{false: 0, true: 1}[tc.lostTo != 0] {
				t.Errorf("%d resume gaps counted", got)
			}
			var got []uint64
			for range tc.replay {
				got = append(got, readMsg(t, c).ID)
			}
			if !slices.Equal(got, tc.replay) {
				t.Fatalf("replayed %v, want %v", got, tc.replay)
			}
			mustPublish(t, ch, testCue(verbatim, 21))
			if m := readMsg(t, c); m.Type != TypeCue || m.ID != 21 {
				t.Fatalf("live after replay: %s", m.raw)
			}
		})
	}
}

// TestSlowClientClosed: a client that never reads overflows its queue and
// is closed with 1013; a reading client on the same track misses nothing.
func TestSlowClientClosed(t *testing.T) {
	ts := newTestServer(t, Options{WriteTimeout: guard, Channel: ChannelOptions{Queue: 8, RingSize: 16}})
	ch := ts.hub.Channel("a")
	dialer := *websocket.DefaultDialer
	dialer.ReadBufferSize = 1024
	slow, _, err := dialer.Dial(ts.feed("a", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	readMsg(t, slow) // hello: subscribed; it reads nothing more for now
	fast := dial(t, ts.feed("a", ""), nil)
	readMsg(t, fast)
	// A big cue fills the socket buffers quickly.
	long := strings.Repeat("x", 16<<10)
	var id uint64
	for ts.hub.Stats().SlowClientDisconnects == 0 {
		id++
		if id > 100000 {
			t.Fatal("the slow client was never closed")
		}
		c := testCue(verbatim, id)
		c.Lines = []string{long}
		mustPublish(t, ch, c)
		// Lock step with the fast client: its queue never holds more than one.
		if m := readMsg(t, fast); m.ID != id {
			t.Fatalf("fast client got %s, want cue %d", m.raw, id)
		}
	}
	code, ms := closeCode(t, slow)
	if code != websocket.CloseTryAgainLater {
		t.Fatalf("slow client closed with %d, want 1013", code)
	}
	ids := cueIDs(ms)
	for i, got := range ids {
		if got != uint64(i+1) {
			t.Fatalf("slow client got ids %v before the close", ids)
		}
	}
	if len(ids) >= int(id) {
		t.Fatalf("slow client got all %d cues, yet was closed", id)
	}
	mustPublish(t, ch, testCue(verbatim, id+1))
	if m := readMsg(t, fast); m.ID != id+1 {
		t.Fatalf("fast client after: %s", m.raw)
	}
	st := ts.hub.Stats()
	if st.SlowClientDisconnects != 1 || st.PerChannel["a"].SlowClientDisconnects != 1 {
		t.Errorf("stats %+v", st)
	}
	waitFor(t, "the slow client to be released", func() bool { return ts.hub.Stats().Clients == 1 })
	t.Logf("slow client closed after %d cues, having received %d", id, len(ids))
}

// TestPartialsCoalesced: partials published while a client is not reading
// collapse into the newest, and a cue keeps its place after them.
func TestPartialsCoalesced(t *testing.T) {
	ts := newTestServer(t, Options{})
	ch := ts.hub.Channel("a")
	c := dial(t, ts.feed("a", ""), nil)
	readMsg(t, c)
	// Hold the client's writer: block its track so nothing is taken... we
	// cannot pause a writer, so coalescing is checked on the queue directly
	// in TestClientQueue; here the order of delivered messages is checked.
	for i := range 50 {
		if err := ch.PublishPartial(captions.Partial{Track: verbatim, Lines: []string{fmt.Sprint("p", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	mustPublish(t, ch, testCue(verbatim, 1))
	if err := ch.PublishPartial(captions.Partial{Track: verbatim, Lines: []string{"after"}}); err != nil {
		t.Fatal(err)
	}
	// Delivered: an increasing subsequence of p0..p49 ending with p49,
	// then the cue, then "after".
	var partials []string
	prev := -1
	for {
		m := readMsg(t, c)
		if m.Type == TypeCue {
			break
		}
		var n int
		if _, err := fmt.Sscanf(m.Lines[0], "p%d", &n); err != nil || m.Type != TypePartial || n <= prev {
			t.Fatalf("got %s after p%d", m.raw, prev)
		}
		prev = n
		partials = append(partials, m.Lines[0])
	}
	if prev != 49 {
		t.Fatalf("the newest partial before the cue was p%d, want p49", prev)
	}
	if m := readMsg(t, c); m.Type != TypePartial || m.Lines[0] != "after" {
		t.Fatalf("after the cue: %s", m.raw)
	}
	partials = append(partials, "after")
	st := ts.hub.Stats()
	if uint64(len(partials))+st.PartialsCoalesced != 51 {
		t.Errorf("%d partials delivered + %d coalesced != 51 published", len(partials), st.PartialsCoalesced)
	}
}

// TestClientQueue checks the queue discipline without a network.
func TestClientQueue(t *testing.T) {
	h := New(Options{Channel: ChannelOptions{Queue: 4}})
	ch := h.Channel("a")
	c := newClient(h, ch, ch.trackFor(""), "ip")
	m := func(s string) []byte { return []byte(s) }
	c.start([][]byte{m("hello"), m("c1")}, m("p0"), nil)
	if c.setPartial(m("p1")) != true {
		t.Error("replacing p0 not reported as coalesced")
	}
	c.setPartial(m("p2"))
	if !c.enqueue(m("c2")) || !c.enqueue(m("c3")) {
		t.Fatal("overflow too early")
	}
	c.setPartial(m("p3"))
	batch, closing, _, _ := c.take(nil)
	got := make([]string, len(batch))
	for i, b := range batch {
		got[i] = string(b)
	}
	want := []string{"hello", "c1", "p2", "c2", "c3", "p3"}
	if !slices.Equal(got, want) || closing {
		t.Fatalf("took %v (closing %v), want %v", got, closing, want)
	}
	for i := range 4 {
		if !c.enqueue(m(fmt.Sprint("x", i))) {
			t.Fatalf("overflow at %d of 4", i)
		}
	}
	if c.enqueue(m("x4")) {
		t.Fatal("a fifth message fit a queue of 4")
	}
	batch, closing, code, _ := c.take(nil)
	if len(batch) != 0 || !closing || code != websocket.CloseTryAgainLater || !c.killed.Load() {
		t.Fatalf("after overflow: %d queued, closing %v, code %d", len(batch), closing, code)
	}
	// A partial displaced into a full queue also overflows.
	c2 := newClient(h, ch, ch.trackFor(""), "ip")
	c2.start(nil, nil, nil)
	for i := range 3 {
		c2.enqueue(m(fmt.Sprint(i)))
	}
	c2.setPartial(m("p"))
	if c2.enqueue(m("c")) {
		t.Fatal("partial + cue fit into one free slot")
	}
}

func TestPublishErrors(t *testing.T) {
	h := New(Options{Channel: ChannelOptions{Tracks: []string{verbatim}}})
	ch := h.Channel("a")
	mustPublish(t, ch, testCue(verbatim, 5))
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"same id", ch.PublishCue(testCue(verbatim, 5)), ErrNotMonotonic},
		{"lower id", ch.PublishCue(testCue(verbatim, 4)), ErrNotMonotonic},
		{"track not offered", ch.PublishCue(testCue(subtitle, 6)), ErrUnknownTrack},
		{"partial on unknown track", ch.PublishPartial(captions.Partial{Track: "x"}), ErrUnknownTrack},
		{"next id", ch.PublishCue(testCue(verbatim, 9)), nil},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := h.ChannelWith("b", ChannelOptions{Tracks: []string{"karaoke"}}); !errors.Is(err, ErrUnknownTrack) {
		t.Errorf("ChannelWith unknown track: %v", err)
	}
	h.RemoveChannel("a")
	if err := ch.PublishCue(testCue(verbatim, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("publish on removed channel: %v", err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.Channel("c").PublishGap(0, 1, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("publish after Close: %v", err)
	}
}

// TestClientMisbehaviour: malformed or oversize frames close that client
// with the right code and are counted; an observer is unaffected.
func TestClientMisbehaviour(t *testing.T) {
	ts := newTestServer(t, Options{ReadLimit: 512})
	ch := ts.hub.Channel("a")
	observer := dial(t, ts.feed("a", ""), nil)
	readMsg(t, observer)
	var next uint64
	for _, tc := range []struct {
		name  string
		send  []byte
		code  int // 0: the connection stays open
		count func(Stats) uint64
	}{
		{"small text is ignored", clientFrame(true, 0, websocket.TextMessage, []byte(`{"type":"hi"}`), true), 0, nil},
		{"binary is ignored", clientFrame(true, 0, websocket.BinaryMessage, []byte{1, 2, 3}, true), 0, nil},
		{"oversize text", clientFrame(true, 0, websocket.TextMessage, make([]byte, 513), true), websocket.CloseMessageTooBig,
			func(s Stats) uint64 { return s.OversizeMessages }},
		{"oversize in fragments", append(clientFrame(false, 0, websocket.TextMessage, make([]byte, 300), true),
			clientFrame(true, 0, 0, make([]byte, 300), true)...), websocket.CloseMessageTooBig,
			func(s Stats) uint64 { return s.OversizeMessages }},
		// CVE-2020-27813: a 64-bit length near 2^63 must not slip past the limit.
		{"huge declared length", []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
			websocket.CloseMessageTooBig, func(s Stats) uint64 { return s.OversizeMessages }},
		{"unmasked frame", clientFrame(true, 0, websocket.TextMessage, []byte("hi"), false), websocket.CloseProtocolError,
			func(s Stats) uint64 { return s.ProtocolErrors }},
		{"reserved bits", clientFrame(true, 2, websocket.TextMessage, []byte("hi"), true), websocket.CloseProtocolError,
			func(s Stats) uint64 { return s.ProtocolErrors }},
		{"bad opcode", clientFrame(true, 0, 5, []byte("hi"), true), websocket.CloseProtocolError,
			func(s Stats) uint64 { return s.ProtocolErrors }},
		{"fragmented ping", clientFrame(false, 0, websocket.PingMessage, []byte("hi"), true), websocket.CloseProtocolError,
			func(s Stats) uint64 { return s.ProtocolErrors }},
		{"continuation first", clientFrame(true, 0, 0, []byte("hi"), true), websocket.CloseProtocolError,
			func(s Stats) uint64 { return s.ProtocolErrors }},
		{"bad close code", clientFrame(true, 0, websocket.CloseMessage, []byte{0x03, 0xe7}, true), websocket.CloseProtocolError,
			func(s Stats) uint64 { return s.ProtocolErrors }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send, code, count := tc.send, tc.code, tc.count
			var before uint64
			if count != nil {
				before = count(ts.hub.Stats())
			}
			rc := rawDial(t, ts, "/v1/channels/a/captions")
			if f, err := rc.readFrame(); err != nil || f.opcode != websocket.TextMessage { // hello: subscribed
				t.Fatalf("hello: %v %v", f, err)
			}
			if _, err := rc.Write(send); err != nil {
				t.Fatal(err)
			}
			if code == 0 {
				// Still open: it gets the next cue.
				next++
				mustPublish(t, ch, testCue(verbatim, next))
				if m := readMsg(t, observer); m.ID != next {
					t.Fatalf("observer got %s", m.raw)
				}
				texts := 0
				for texts < 1 {
					f, err := rc.readFrame()
					if err != nil {
						t.Fatal(err)
					}
					if f.opcode == websocket.TextMessage {
						texts++
					}
					if f.opcode == websocket.CloseMessage {
						t.Fatalf("closed: % x", f.payload)
					}
				}
			} else {
				got, _, err := rc.readUntilClose()
				if err != nil || got != code {
					t.Fatalf("close code %d (%v), want %d", got, err, code)
				}
				waitFor(t, "the counter", func() bool { return count(ts.hub.Stats()) == before+1 })
			}
			rc.Close()
			next++
			mustPublish(t, ch, testCue(verbatim, next))
			if m := readMsg(t, observer); m.ID != next {
				t.Fatalf("observer got %s", m.raw)
			}
		})
	}
}

func TestPongTimeout(t *testing.T) {
	ts := newTestServer(t, Options{PingInterval: 100 * time.Millisecond, PongTimeout: 2 * time.Second})
	ch := ts.hub.Channel("a")
	live := dial(t, ts.feed("a", ""), nil)
	msgs := make(chan testMsg, 16)
	go func() { // a live client: reading answers pings
		defer close(msgs)
		for {
			m, err := tryRead(live)
			if err != nil {
				return
			}
			msgs <- m
		}
	}()
	rc := rawDial(t, ts, "/v1/channels/a/captions") // never answers
	waitFor(t, "the silent client to be closed", func() bool { return ts.hub.Stats().PongTimeouts >= 1 })
	waitFor(t, "the silent client to be released", func() bool { return ts.hub.Stats().Clients == 1 })
	rc.Close()
	// The live client answered every ping meanwhile and still gets cues.
	mustPublish(t, ch, testCue(verbatim, 1))
	if m := <-msgs; m.Type != TypeHello {
		t.Fatalf("got %s", m.raw)
	}
	if m := <-msgs; m.ID != 1 {
		t.Fatalf("got %s", m.raw)
	}
	if st := ts.hub.Stats(); st.Clients != 1 || st.PongTimeouts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAdmission(t *testing.T) {
	ts := newTestServer(t, Options{
		AllowedOrigins:  []string{"https://player.example"},
		Token:           "s3cret",
		MaxClients:      4,
		MaxClientsPerIP: 3,
	})
	ts.hub.Channel("a")
	if _, err := ts.hub.ChannelWith("v", ChannelOptions{Tracks: []string{verbatim}, MaxClients: 1}); err != nil {
		t.Fatal(err)
	}
	auth := http.Header{"Authorization": {"Bearer s3cret"}}
	hdr := func(kv ...string) http.Header {
		h := auth.Clone()
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	observer := dial(t, ts.feed("a", ""), auth)
	readMsg(t, observer)
	for _, tc := range []struct {
		name   string
		url    string
		hdr    http.Header
		status int
		reason RejectReason
	}{
		{"allowed origin", ts.feed("a", ""), hdr("Origin", "https://player.example"), 101, ""},
		{"allowed origin, other case", ts.feed("a", ""), hdr("Origin", "HTTPS://Player.Example"), 101, ""},
		{"foreign origin", ts.feed("a", ""), hdr("Origin", "https://evil.example"), 403, RejectOrigin},
		{"same host, not listed", ts.feed("a", ""), hdr("Origin", ts.srv.URL), 403, RejectOrigin},
		{"no token", ts.feed("a", ""), nil, 401, RejectToken},
		{"wrong token", ts.feed("a", ""), http.Header{"Authorization": {"Bearer nope"}}, 401, RejectToken},
		{"basic auth", ts.feed("a", ""), http.Header{"Authorization": {"Basic czNjcmV0"}}, 401, RejectToken},
		{"token in query", ts.feed("a", "token=s3cret"), nil, 101, ""},
		{"wrong token in query", ts.feed("a", "token=s3cre"), nil, 401, RejectToken},
		{"unknown channel", ts.feed("zz", ""), auth, 404, RejectChannel},
		{"bad track", ts.feed("a", "track=karaoke"), auth, 400, RejectTrack},
		{"empty track", ts.feed("a", "track="), auth, 400, RejectTrack},
		{"track not offered", ts.feed("v", "track=subtitle"), auth, 400, RejectTrack},
		{"negative since", ts.feed("a", "since=-1"), auth, 400, RejectSince},
		{"text since", ts.feed("a", "since=abc"), auth, 400, RejectSince},
		{"since twice", ts.feed("a", "since=1&since=2"), auth, 400, RejectSince},
		{"malformed query", ts.feed("a", "since=%zz"), auth, 400, RejectQuery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.hub.Stats().Rejected
			status, _ := dialStatus(t, tc.url, tc.hdr)
			if status != tc.status {
				t.Fatalf("HTTP %d, want %d", status, tc.status)
			}
			after := ts.hub.Stats().Rejected
			for r, n := range after {
				want := before[r]
				if r == tc.reason {
					want++
				}
				if n != want {
					t.Errorf("rejected[%s] = %d, want %d", r, n, want)
				}
			}
		})
	}
	t.Run("not a websocket request", func(t *testing.T) {
		req, _ := http.NewRequest("GET", ts.srv.URL+"/v1/channels/a/captions", nil)
		req.Header = auth.Clone()
		resp, err := ts.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || ts.hub.Stats().Rejected[RejectHandshake] != 1 {
			t.Fatalf("HTTP %d, rejected %v", resp.StatusCode, ts.hub.Stats().Rejected)
		}
		resp, err = ts.srv.Client().Post(ts.srv.URL+"/v1/channels/a/captions", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || ts.hub.Stats().Rejected[RejectMethod] != 1 {
			t.Fatalf("POST: HTTP %d, rejected %v", resp.StatusCode, ts.hub.Stats().Rejected)
		}
		resp, err = ts.srv.Client().Get(ts.srv.URL + "/v1/channels/a/other")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("other path: HTTP %d", resp.StatusCode)
		}
	})
	t.Run("caps", func(t *testing.T) {
		waitFor(t, "earlier clients to go", func() bool { return ts.hub.Stats().Clients == 1 })
		// The observer holds one slot; two more fill the per-IP cap of 3.
		c1 := dial(t, ts.feed("v", ""), auth)
		readMsg(t, c1)
		status, h := dialStatus(t, ts.feed("a", ""), auth)
		if status != 101 {
			t.Fatalf("third connection: HTTP %d", status)
		}
		waitFor(t, "the third client to go", func() bool { return ts.hub.Stats().Clients == 2 })
		if status, h = dialStatus(t, ts.feed("v", ""), auth); status != 503 || h.Get("Retry-After") != "5" {
			t.Fatalf("channel cap: HTTP %d Retry-After %q", status, h.Get("Retry-After"))
		}
		c3 := dial(t, ts.feed("a", ""), auth)
		readMsg(t, c3)
		if status, h = dialStatus(t, ts.feed("a", ""), auth); status != 503 || h.Get("Retry-After") == "" {
			t.Fatalf("per-IP cap: HTTP %d", status)
		}
		st := ts.hub.Stats()
		if st.Rejected[RejectChannelFull] != 1 || st.Rejected[RejectIPFull] != 1 {
			t.Fatalf("rejected %v", st.Rejected)
		}
		// The total cap, on a hub without a per-IP cap.
		ts2 := newTestServer(t, Options{MaxClients: 1, MaxClientsPerIP: -1})
		ts2.hub.Channel("a")
		k := dial(t, ts2.feed("a", ""), nil)
		readMsg(t, k)
		if status, _ := dialStatus(t, ts2.feed("a", ""), nil); status != 503 || ts2.hub.Stats().Rejected[RejectFull] != 1 {
			t.Fatalf("total cap: HTTP %d, %v", status, ts2.hub.Stats().Rejected)
		}
	})
	mustPublish(t, ts.hub.Channel("a"), testCue(verbatim, 1))
	if m := readMsg(t, observer); m.ID != 1 {
		t.Fatalf("observer got %s", m.raw)
	}
}

func TestCloseSends1001(t *testing.T) {
	ts := newTestServer(t, Options{})
	h := ts.hub
	ch := h.Channel("a")
	mustPublish(t, ch, testCue(verbatim, 1))
	var cs []*websocket.Conn
	for range 3 {
		c := dial(t, ts.feed("a", "since=1"), nil)
		readMsg(t, c)
		cs = append(cs, c)
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() { // reading answers the close frame
			defer wg.Done()
			code, ms := closeCode(t, c)
			if code != websocket.CloseGoingAway || len(ms) != 1 || ms[0].ID != 1 {
				t.Errorf("client %d: close %d after %d messages", i, code, len(ms))
			}
		}()
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if status, _ := dialStatus(t, ts.feed("a", ""), nil); status != 503 {
		t.Errorf("after Close: HTTP %d", status)
	}
	if st := h.Stats(); st.Clients != 0 || st.Rejected[RejectShuttingDown] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRemoveChannelAndEOS(t *testing.T) {
	ts := newTestServer(t, Options{})
	ch := ts.hub.Channel("a")
	c := dial(t, ts.feed("a", ""), nil)
	readMsg(t, c)
	mustPublish(t, ch, testCue(verbatim, 1))
	if err := ch.EOS(); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, c); m.ID != 1 {
		t.Fatalf("got %s", m.raw)
	}
	if m := readMsg(t, c); m.Type != TypeEOS || m.LastID != 1 {
		t.Fatalf("got %s", m.raw)
	}
	late := dial(t, ts.feed("a", "since=1"), nil)
	for _, want := range []string{TypeHello, TypeCue, TypeEOS} {
		if m := readMsg(t, late); m.Type != want {
			t.Fatalf("late client got %s, want %s", m.raw, want)
		}
	}
	mustPublish(t, ch, testCue(verbatim, 2)) // the stream resumed
	for _, x := range []*websocket.Conn{c, late} {
		if m := readMsg(t, x); m.ID != 2 {
			t.Fatalf("got %s", m.raw)
		}
	}
	fresh := dial(t, ts.feed("a", "since=2"), nil)
	for _, want := range []string{TypeHello, TypeCue} {
		if m := readMsg(t, fresh); m.Type != want {
			t.Fatalf("client after resume got %s, want %s", m.raw, want)
		}
	}
	ts.hub.RemoveChannel("a")
	for _, x := range []*websocket.Conn{c, late, fresh} {
		code, ms := closeCode(t, x)
		if code != websocket.CloseGoingAway || len(ms) != 1 || ms[0].Type != TypeEOS || ms[0].Reason != "channel removed" {
			t.Fatalf("close %d after %+v", code, ms)
		}
	}
	if status, _ := dialStatus(t, ts.feed("a", ""), nil); status != 404 {
		t.Fatalf("removed channel: HTTP %d", status)
	}
}

func TestChannelWithReconfigure(t *testing.T) {
	ts := newTestServer(t, Options{})
	ch, err := ts.hub.ChannelWith("a", ChannelOptions{RingSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for id := uint64(1); id <= 10; id++ {
		mustPublish(t, ch, testCue(verbatim, id))
		mustPublish(t, ch, testCue(subtitle, id))
	}
	sub := dial(t, ts.feed("a", "track=subtitle"), nil)
	readMsg(t, sub)
	keep := dial(t, ts.feed("a", ""), nil)
	readMsg(t, keep)
	ch2, err := ts.hub.ChannelWith("a", ChannelOptions{Tracks: []string{verbatim}, RingSize: 4})
	if err != nil || ch2 != ch {
		t.Fatalf("reconfigure: %v, same channel %v", err, ch2 == ch)
	}
	if code, ms := closeCode(t, sub); code != websocket.CloseGoingAway || len(ms) != 1 || ms[0].Type != TypeEOS {
		t.Fatalf("dropped track: close %d after %+v", code, ms)
	}
	mustPublish(t, ch, testCue(verbatim, 11))
	if m := readMsg(t, keep); m.ID != 11 {
		t.Fatalf("kept client got %s", m.raw)
	}
	c := dial(t, ts.feed("a", "since=1"), nil)
	h := readMsg(t, c)
	if h.RetainedFrom != 8 || h.RetainedTo != 11 || h.Replay != 4 {
		t.Fatalf("after resize: %s", h.raw)
	}
	if g := readMsg(t, c); g.Type != TypeGap || *g.LostFrom != 1 || *g.LostTo != 7 {
		t.Fatalf("gap %s", g.raw)
	}
}

func TestRing(t *testing.T) {
	for _, tc := range []struct {
		size   int
		push   []uint64
		resize int // 0: none
		since  uint64
		want   []uint64
	}{
		{3, nil, 0, 0, nil},
		{3, []uint64{1, 2}, 0, 0, []uint64{1, 2}},
		{3, []uint64{1, 2, 3, 4, 5}, 0, 0, []uint64{3, 4, 5}},
		{3, []uint64{1, 2, 3, 4, 5}, 0, 4, []uint64{4, 5}},
		{3, []uint64{1, 2, 3, 4, 5}, 0, 6, nil},
		{3, []uint64{10, 20, 30, 40}, 0, 25, []uint64{30, 40}},
		{1, []uint64{1, 2}, 0, 0, []uint64{2}},
		{5, []uint64{1, 2, 3, 4, 5, 6, 7}, 2, 0, []uint64{6, 7}},
		{2, []uint64{1, 2, 3}, 5, 0, []uint64{2, 3}},
	} {
		r := newRing(tc.size)
		for _, id := range tc.push {
			r.push(ringEntry{id: id, msg: []byte(fmt.Sprint(id))})
		}
		if tc.resize > 0 {
			r = r.resized(tc.resize)
		}
		ids := func(since uint64) []uint64 {
			var out []uint64
			for _, m := range r.since(nil, since) {
				var id uint64
				fmt.Sscan(string(m), &id)
				out = append(out, id)
			}
			return out
		}
		if got := ids(tc.since); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: since %d gave %v", tc, tc.since, got)
		}
		all := ids(0)
		first, last, ok := r.span()
		if ok != (len(all) > 0) || ok && (first != all[0] || last != all[len(all)-1]) {
			t.Errorf("%+v: span %d..%d %v, retained %v", tc, first, last, ok, all)
		}
	}
}

func TestParseParams(t *testing.T) {
	errMalformed := errors.New("malformed")
	for _, tc := range []struct {
		q    string
		want Params
		err  error
	}{
		{"", Params{}, nil},
		{"track=subtitle", Params{Track: subtitle}, nil},
		{"since=0", Params{HasSince: true}, nil},
		{"since=18446744073709551615&track=verbatim", Params{Track: verbatim, Since: 1<<64 - 1, HasSince: true}, nil},
		{"token=x&since=7", Params{Since: 7, HasSince: true}, nil},
		{"since=18446744073709551616", Params{}, ErrBadSince},
		{"since=", Params{}, ErrBadSince},
		{"since=+1", Params{}, ErrBadSince},
		{"since=1&since=1", Params{}, ErrBadSince},
		{"track=Verbatim", Params{}, ErrBadTrack},
		{"track=", Params{}, ErrBadTrack},
		{"track=verbatim&track=subtitle", Params{}, ErrBadTrack},
		{"a=%", Params{}, errMalformed},
		{"since=1;x", Params{}, errMalformed},
	} {
		got, err := ParseParams(tc.q)
		switch {
		case tc.err == errMalformed:
			if err == nil || errors.Is(err, ErrBadSince) || errors.Is(err, ErrBadTrack) {
				t.Errorf("%q: %v, want a malformed-query error", tc.q, err)
			}
		case !errors.Is(err, tc.err) || err == nil && got != tc.want:
			t.Errorf("%q: %+v %v, want %+v %v", tc.q, got, err, tc.want, tc.err)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		origin  []string
		host    string
		want    bool
	}{
		{nil, nil, "h:1", true},
		{nil, []string{"http://h:1"}, "h:1", true},
		{nil, []string{"https://H:1"}, "h:1", true},
		{nil, []string{"http://h:2"}, "h:1", false},
		{nil, []string{"null"}, "h:1", false},
		{nil, []string{"http://h:1", "http://h:1"}, "h:1", false},
		{[]string{"*"}, []string{"https://any.example"}, "h:1", true},
		{[]string{"*"}, nil, "h:1", true},
		{[]string{"https://a.example"}, nil, "h:1", true},
		{[]string{"https://a.example/"}, []string{"https://a.example"}, "h:1", true},
		{[]string{"https://a.example"}, []string{"https://a.example.evil"}, "h:1", false},
		{[]string{"https://a.example"}, []string{"http://h:1"}, "h:1", false},
	} {
		h := New(Options{AllowedOrigins: tc.allowed})
		r, _ := http.NewRequest("GET", "http://"+tc.host+"/", nil)
		for _, o := range tc.origin {
			r.Header.Add("Origin", o)
		}
		if got := h.originAllowed(r); got != tc.want {
			t.Errorf("allowed %v, origin %v, host %s: %v", tc.allowed, tc.origin, tc.host, got)
		}
	}
}
