package hub

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/subtitled/subtitled/captions"
)

func TestMain(m *testing.M) {
	if runBenchClients() {
		return
	}
	goleak.VerifyTestMain(m)
}

// guard bounds every blocking read in the tests so that a bug fails the
// test instead of hanging it. It is not a timing assertion.
const guard = 30 * time.Second

// testMsg is any protocol message, decoded.
type testMsg struct {
	Type         string   `json:"type"`
	Protocol     int      `json:"protocol"`
	Channel      string   `json:"channel"`
	Track        string   `json:"track"`
	ID           uint64   `json:"id"`
	Lines        []string `json:"lines"`
	Start        float64  `json:"start"`
	End          float64  `json:"end"`
	StartPTS     int64    `json:"start_pts"`
	EndPTS       int64    `json:"end_pts"`
	Emitted      string   `json:"emitted"`
	ServerTime   string   `json:"server_time"`
	LastID       uint64   `json:"last_id"`
	RetainedFrom uint64   `json:"retained_from"`
	RetainedTo   uint64   `json:"retained_to"`
	Since        *uint64  `json:"since"`
	Replay       int      `json:"replay"`
	Reason       string   `json:"reason"`
	LostFrom     *uint64  `json:"lost_from"`
	LostTo       *uint64  `json:"lost_to"`
	Segment      uint64   `json:"segment"`
	raw          []byte
}

// testServer is a hub behind a loopback HTTP server.
type testServer struct {
	hub *Hub
	srv *httptest.Server
}

func newTestServer(t testing.TB, o Options) *testServer {
	t.Helper()
	h := New(o)
	srv := httptest.NewServer(h)
	ts := &testServer{hub: h, srv: srv}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		srv.Close()
	})
	return ts
}

func (ts *testServer) url(path string) string {
	return "ws" + strings.TrimPrefix(ts.srv.URL, "http") + path
}

func (ts *testServer) feed(channel, query string) string {
	u := ts.url("/v1/channels/" + channel + "/captions")
	if query != "" {
		u += "?" + query
	}
	return u
}

// dial connects; the caller closes the connection.
func dial(t testing.TB, url string, hdr http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialStatus tries to connect and returns the HTTP status of a refusal (or
// 101 when it was accepted, closing that connection).
func dialStatus(t testing.TB, url string, hdr http.Header) (int, http.Header) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err == nil {
		c.Close()
		return http.StatusSwitchingProtocols, resp.Header
	}
	if resp == nil {
		t.Fatalf("dial %s: %v (no response)", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func readMsg(t testing.TB, c *websocket.Conn) testMsg {
	t.Helper()
	m, err := tryRead(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func tryRead(c *websocket.Conn) (testMsg, error) {
	var m testMsg
	_ = c.SetReadDeadline(time.Now().Add(guard))
	typ, data, err := c.ReadMessage()
	if err != nil {
		return m, err
	}
	if typ != websocket.TextMessage {
		return m, fmt.Errorf("message type %d, want text", typ)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("bad JSON %q: %w", data, err)
	}
	m.raw = data
	return m, nil
}

// readUntilCue reads messages until the cue with id last and returns them.
func readUntilCue(t testing.TB, c *websocket.Conn, last uint64) []testMsg {
	t.Helper()
	var ms []testMsg
	for {
		m := readMsg(t, c)
		ms = append(ms, m)
		if m.Type == TypeCue && m.ID >= last {
			return ms
		}
	}
}

func cueIDs(ms []testMsg) []uint64 {
	var ids []uint64
	for _, m := range ms {
		if m.Type == TypeCue {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// closeCode reads until the connection ends and returns the close code
// (websocket.CloseAbnormalClosure when there was no close frame).
func closeCode(t testing.TB, c *websocket.Conn) (int, []testMsg) {
	t.Helper()
	var ms []testMsg
	for {
		m, err := tryRead(c)
		if err == nil {
			ms = append(ms, m)
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ms
		}
		t.Fatalf("connection ended without close frame: %v", err)
	}
}

func testCue(track string, id uint64) captions.Cue {
	return captions.Cue{
		ID: id, Track: track,
		Lines: []string{fmt.Sprintf("cue %d line one", id), "line two"},
		Start: int64(id) * 90000, End: int64(id)*90000 + 45000,
		Emitted: time.Date(2024, 5, 1, 12, 0, 0, int(id)*1e6, time.UTC),
	}
}

func mustPublish(t testing.TB, ch *Channel, c captions.Cue) {
	t.Helper()
	if err := ch.PublishCue(c); err != nil {
		t.Fatalf("PublishCue(%d): %v", c.ID, err)
	}
}

// waitFor polls cond; it fails the test when cond is still false after the
// guard time (a hang, not a timing assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rawConn is a hand-driven WebSocket client for sending malformed frames.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func rawDial(t testing.TB, ts *testServer, path string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + ts.srv.Listener.Addr().String() +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(key) + "\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(guard))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("raw handshake: HTTP %d", resp.StatusCode)
	}
	return &rawConn{Conn: nc, br: br}
}

// clientFrame builds one masked client frame (mask=false leaves it
// unmasked, which servers must reject).
func clientFrame(fin bool, rsv, opcode byte, payload []byte, mask bool) []byte {
	b0 := opcode | rsv<<4
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	mbit := byte(0)
	if mask {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, mbit|byte(n))
	case n < 1<<16:
		f = append(f, mbit|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, mbit|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if !mask {
		return append(f, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// serverFrame is one frame read from the server.
type serverFrame struct {
	opcode  byte
	payload []byte
}

// readFrame parses one server frame (servers never mask).
func (rc *rawConn) readFrame() (serverFrame, error) {
	var f serverFrame
	_ = rc.SetReadDeadline(time.Now().Add(guard))
	var h [2]byte
	if _, err := io.ReadFull(rc.br, h[:]); err != nil {
		return f, err
	}
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked")
	}
	if h[0]&0x70 != 0 {
		return f, errors.New("server frame has reserved bits")
	}
	f.opcode = h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(rc.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(rc.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return f, fmt.Errorf("server frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(rc.br, f.payload)
	return f, err
}

// readUntilClose reads frames until a close frame and returns its code
// (0 when the connection ended without one) and the text frames before it.
func (rc *rawConn) readUntilClose() (int, [][]byte, error) {
	var texts [][]byte
	for {
		f, err := rc.readFrame()
		if err != nil {
			return 0, texts, err
		}
		switch f.opcode {
		case websocket.TextMessage:
			texts = append(texts, f.payload)
		case websocket.CloseMessage:
			if len(f.payload) < 2 {
				return websocket.CloseNoStatusReceived, texts, nil
			}
			return int(binary.BigEndian.Uint16(f.payload)), texts, nil
		case websocket.PingMessage, websocket.PongMessage:
		default:
			return 0, texts, fmt.Errorf("unexpected opcode %d", f.opcode)
		}
	}
}

func testCuePartial() captions.Partial {
	return captions.Partial{Track: "verbatim", Segment: 1, Lines: []string{"partial text"}, Start: 90000, End: 180000}
}
