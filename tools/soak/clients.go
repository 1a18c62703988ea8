package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// clientEvent is something a client saw that may be a fault: the server
// closing the connection, a cue id not above the previous one, or a gap in
// the verbatim track's consecutive ids.
type clientEvent struct {
	kind    string // "disconnect", "order", "gap"
	channel string
	track   string
	from    time.Time // gap and order: when the previous cue arrived
	at      time.Time
	detail  string
}

const (
	eventDisconnect = "disconnect"
	eventOrder      = "order"
	eventGap        = "gap"
	maxEvents       = 10000
)

// churn runs a fixed number of WebSocket clients, each of which connects to
// a random channel and track, reads for 1–20 s, closes, pauses 0–2 s and
// starts again.
type churn struct {
	addr     string
	channels int
	seed     uint64
	logf     func(format string, args ...any)

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stopped bool
	active  map[*websocket.Conn]struct{}
	events  []clientEvent
	kinds   map[string]int // events by kind, including those not kept
	dialErr map[string]int // failed dials by reason

	connections atomic.Int64
	messages    atomic.Int64
	cues        atomic.Int64
	gapMsgs     atomic.Int64
	eosMsgs     atomic.Int64
}

func newChurn(addr string, channels int, seed uint64, logf func(string, ...any)) *churn {
	return &churn{
		addr: addr, channels: channels, seed: seed, logf: logf,
		active: map[*websocket.Conn]struct{}{}, kinds: map[string]int{}, dialErr: map[string]int{},
	}
}

// start launches n clients.
func (c *churn) start(ctx context.Context, n int) {
	ctx, c.cancel = context.WithCancel(ctx)
	for i := range n {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.client(ctx, rand.New(rand.NewPCG(c.seed, uint64(i))))
		}()
	}
}

// stop ends every client and waits for them: reads in progress are cut by
// an expired deadline, and each client closes its connection.
func (c *churn) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.mu.Lock()
	c.stopped = true
	for conn := range c.active {
		_ = conn.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *churn) register(conn *websocket.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	c.active[conn] = struct{}{}
	return true
}

func (c *churn) unregister(conn *websocket.Conn) {
	c.mu.Lock()
	delete(c.active, conn)
	c.mu.Unlock()
}

func (c *churn) event(e clientEvent) {
	c.mu.Lock()
	c.kinds[e.kind]++
	if len(c.events) < maxEvents {
		c.events = append(c.events, e)
	}
	c.mu.Unlock()
	if c.logf != nil {
		c.logf("client: %s on %s/%s: %s", e.kind, e.channel, e.track, e.detail)
	}
}

func (c *churn) dialFailed(reason string) {
	c.mu.Lock()
	c.dialErr[reason]++
	c.mu.Unlock()
}

// snapshot returns copies of the recorded events, event counts by kind and
// failed dials by reason.
func (c *churn) snapshot() ([]clientEvent, map[string]int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kinds := map[string]int{}
	for k, v := range c.kinds {
		kinds[k] = v
	}
	dial := map[string]int{}
	for k, v := range c.dialErr {
		dial[k] = v
	}
	return append([]clientEvent(nil), c.events...), kinds, dial
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// wsMessage is the part of a protocol v1 message the clients check.
type wsMessage struct {
	Type   string `json:"type"`
	ID     uint64 `json:"id"`
	LastID uint64 `json:"last_id"`
}

func (c *churn) client(ctx context.Context, rng *rand.Rand) {
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for ctx.Err() == nil {
		channel := channelID(rng.IntN(c.channels))
		track := "verbatim"
		if rng.IntN(2) == 1 {
			track = "subtitle"
		}
		hold := time.Second + time.Duration(rng.Int64N(int64(19*time.Second)))
		u := url.URL{Scheme: "ws", Host: c.addr, Path: "/v1/channels/" + channel + "/captions", RawQuery: "track=" + track}
		conn, resp, err := dialer.DialContext(ctx, u.String(), nil)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			reason := "error"
			if resp != nil {
				reason = "HTTP " + strconv.Itoa(resp.StatusCode)
			}
			c.dialFailed(reason)
			if !sleep(ctx, 500*time.Millisecond+time.Duration(rng.Int64N(int64(2*time.Second)))) {
				return
			}
			continue
		}
		if !c.register(conn) {
			conn.Close()
			return
		}
		c.connections.Add(1)
		c.read(ctx, conn, channel, track, hold)
		c.unregister(conn)
		if !sleep(ctx, time.Duration(rng.Int64N(int64(2*time.Second)))) {
			return
		}
	}
}

// read consumes one connection for hold, checking the cue ids, then closes
// it.
func (c *churn) read(ctx context.Context, conn *websocket.Conn, channel, track string, hold time.Duration) {
	defer conn.Close()
	conn.SetReadLimit(1 << 20)
	_ = conn.SetReadDeadline(time.Now().Add(hold))
	var last uint64 // newest id seen: hello's last_id, then each cue's
	var lastAt time.Time
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			var ne net.Error
			if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
				// Our own end: say goodbye like a well-behaved client.
				_ = conn.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				return
			}
			c.event(clientEvent{kind: eventDisconnect, channel: channel, track: track, at: time.Now(), detail: err.Error()})
			return
		}
		c.messages.Add(1)
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			c.event(clientEvent{kind: eventOrder, channel: channel, track: track, at: time.Now(), detail: fmt.Sprintf("undecodable message %q", b)})
			continue
		}
		now := time.Now()
		switch m.Type {
		case "hello":
			last, lastAt = m.LastID, now
		case "cue":
			c.cues.Add(1)
			switch {
			case m.ID <= last:
				c.event(clientEvent{kind: eventOrder, channel: channel, track: track, from: lastAt, at: now,
					detail: fmt.Sprintf("cue id %d after %d", m.ID, last)})
			case track == "verbatim" && last > 0 && m.ID != last+1:
				c.event(clientEvent{kind: eventGap, channel: channel, track: track, from: lastAt, at: now,
					detail: fmt.Sprintf("cue id %d after %d", m.ID, last)})
			}
			if m.ID > last {
				last = m.ID
			}
			lastAt = now
		case "gap":
			c.gapMsgs.Add(1)
		case "eos":
			c.eosMsgs.Add(1)
		}
	}
}

// formatCounts writes a map as "k1 n1, k2 n2" in key order.
func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	return s
}
