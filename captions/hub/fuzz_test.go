package hub

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"
)

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"", "track=subtitle&since=12", "since=%zz", "since=1&since=2", "token=a&track=verbatim"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		p, err := ParseParams(q)
		if err != nil {
			if p != (Params{}) {
				t.Fatalf("%q: error %v with params %+v", q, err, p)
			}
			return
		}
		if p.Track != "" && !knownTrack(p.Track) {
			t.Fatalf("%q: track %q accepted", q, p.Track)
		}
		if p.HasSince {
			// The accepted since is exactly the decimal given.
			again, err := ParseParams("since=" + strconv.FormatUint(p.Since, 10))
			if err != nil || again.Since != p.Since {
				t.Fatalf("%q: since %d does not round-trip", q, p.Since)
			}
		} else if p.Since != 0 {
			t.Fatalf("%q: since %d without HasSince", q, p.Since)
		}
	})
}

// FuzzClientFrames sends arbitrary bytes after a handshake. The server must
// answer with well-formed frames only (text messages that are protocol
// JSON, control frames), never panic, and release the connection when the
// client stops sending.
func FuzzClientFrames(f *testing.F) {
	for _, seed := range [][]byte{
		clientFrame(true, 0, websocket.TextMessage, []byte("hello"), true),
		clientFrame(true, 0, websocket.PingMessage, []byte("p"), true),
		clientFrame(true, 0, websocket.CloseMessage, []byte{0x03, 0xe8, 'b', 'y', 'e'}, true),
		clientFrame(true, 0, websocket.TextMessage, make([]byte, 700), true),
		clientFrame(true, 0, websocket.TextMessage, []byte("x"), false),
		append(clientFrame(false, 0, websocket.BinaryMessage, []byte("ab"), true), clientFrame(true, 0, 0, []byte("cd"), true)...),
		{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		f.Add(seed)
	}
	ts := newTestServer(f, Options{ReadLimit: 512, MaxClientsPerIP: -1})
	ch := ts.hub.Channel("a")
	f.Fuzz(func(t *testing.T, data []byte) {
		rc := rawDial(t, ts, "/v1/channels/a/captions")
		defer rc.Close()
		_ = ch.PublishPartial(testPartial)
		if _, err := rc.Write(data); err != nil {
			return // the server may already have closed
		}
		_ = rc.Conn.(*net.TCPConn).CloseWrite()
		for {
			fr, err := rc.readFrame()
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
					return
				}
				t.Fatalf("bad server frame: %v", err)
			}
			switch fr.opcode {
			case websocket.TextMessage:
				var m struct{ Type string }
				if err := json.Unmarshal(fr.payload, &m); err != nil || m.Type == "" {
					t.Fatalf("server text frame is not a protocol message: %q", fr.payload)
				}
			case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
			default:
				t.Fatalf("server sent opcode %d", fr.opcode)
			}
		}
	})
}

var testPartial = testCuePartial()

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}
