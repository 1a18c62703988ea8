package hub

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// client is one WebSocket connection subscribed to one track.
//
// Lock order: track.mu, then client.mu. The publisher only appends to the
// client's queue under client.mu and wakes the writer; it never writes to
// the network.
type client struct {
	hub      *Hub
	ch       *Channel
	tr       *track
	ip       string
	maxQueue int

	wake       chan struct{} // capacity 1: "the queue changed"
	readerDone chan struct{} // closed when the reader returns
	killed     atomic.Bool   // stop writing data at once (overflow or cut)

	mu      sync.Mutex
	conn    *websocket.Conn // set once upgraded
	cutReq  bool            // cut before conn was set
	replay  [][]byte        // hello, gap, retained cues: sent first, not bounded by maxQueue
	queue   [][]byte        // ordered live messages (cues, gaps, eos, displaced partials)
	partial []byte          // newest partial not yet sent; replaced, never queued behind another
	closing bool            // server closes after the queue drains (at once when killed)
	code    int
	reason  string
}

func newClient(h *Hub, ch *Channel, tr *track, ip string) *client {
	return &client{
		hub: h, ch: ch, tr: tr, ip: ip, maxQueue: ch.queueSize(),
		wake:       make(chan struct{}, 1),
		readerDone: make(chan struct{}),
	}
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// start sets what the client gets before live messages. Called under
// the track's mutex, before the client joins the track's subscribers.
func (c *client) start(replay [][]byte, partial, eos []byte) {
	c.mu.Lock()
	c.replay, c.partial = replay, partial
	if eos != nil {
		c.queue = append(c.queue, eos)
	}
	c.mu.Unlock()
	c.signal()
}

// enqueue appends an ordered message. A pending partial was published
// before msg, so it goes into the queue first. It returns false when the
// queue overflowed: the client is then killed with 1013 and the caller
// must drop it from the track.
func (c *client) enqueue(msg []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return true // already on its way out
	}
	need := 1
	if c.partial != nil {
		need = 2
	}
	if len(c.queue)+need > c.maxQueue {
		c.killLocked(websocket.CloseTryAgainLater, "client too slow")
		c.mu.Unlock()
		c.signal()
		return false
	}
	if c.partial != nil {
		c.queue = append(c.queue, c.partial)
		c.partial = nil
	}
	c.queue = append(c.queue, msg)
	c.mu.Unlock()
	c.signal()
	return true
}

// setPartial makes msg the pending partial; it reports whether an unsent
// partial was replaced.
func (c *client) setPartial(msg []byte) (coalesced bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	coalesced = c.partial != nil
	c.partial = msg
	c.mu.Unlock()
	c.signal()
	return coalesced
}

// killLocked drops everything queued and makes the writer send a close
// frame with code as soon as its current write ends.
func (c *client) killLocked(code int, reason string) {
	c.closing, c.code, c.reason = true, code, reason
	c.killed.Store(true)
	clear(c.replay)
	clear(c.queue)
	c.replay, c.queue, c.partial = nil, nil, nil
}

// closeAfterDrain makes the writer send what is queued, then a close frame.
func (c *client) closeAfterDrain(code int, reason string) {
	c.mu.Lock()
	if !c.closing {
		c.closing, c.code, c.reason = true, code, reason
	}
	c.mu.Unlock()
	c.signal()
}

// cut closes the network connection at once.
func (c *client) cut() {
	c.mu.Lock()
	c.cutReq = true
	if !c.closing {
		c.closing, c.code, c.reason = true, websocket.CloseGoingAway, "server shutting down"
	}
	c.killed.Store(true)
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// take moves every pending message into batch, in send order.
func (c *client) take(batch [][]byte) (_ [][]byte, closing bool, code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.killed.Load() {
		batch = append(batch, c.replay...)
		batch = append(batch, c.queue...)
		if c.partial != nil {
			batch = append(batch, c.partial)
		}
		c.replay, c.partial = nil, nil
		clear(c.queue)
		c.queue = c.queue[:0]
		if cap(c.queue) > 64 {
			c.queue = nil // do not keep a burst's buffer for an idle client
		}
	}
	return batch, c.closing, c.code, c.reason
}

func (c *client) serverClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// serve runs an upgraded connection until it ends. It is the reader; it
// starts the writer and waits for it.
func (c *client) serve(conn *websocket.Conn, p Params) {
	c.mu.Lock()
	c.conn = conn
	cut := c.cutReq
	c.mu.Unlock()
	if cut {
		conn.Close()
		return
	}
	if !c.ch.subscribe(c, p) { // the track closed since the lookup
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "channel removed"),
			time.Now().Add(c.hub.opts.WriteTimeout))
		conn.Close()
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(conn)
	}()
	c.readLoop(conn)
	close(c.readerDone)
	c.ch.unsubscribe(c)
	conn.Close()
	<-writerDone
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readLoop reads until the connection fails: control frames (pong, close)
// are handled by gorilla's handlers, data messages are discarded. Reading
// nothing for PongTimeout ends it.
func (c *client) readLoop(conn *websocket.Conn) {
	o := &c.hub.opts
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(o.PongTimeout)) }
	conn.SetReadLimit(o.ReadLimit)
	alive()
	conn.SetPongHandler(func(string) error { alive(); return nil })
	conn.SetPingHandler(func(data string) error {
		alive()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(o.WriteTimeout))
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || isTimeout(err) {
			return nil
		}
		return err
	})
	for {
		_, r, err := conn.NextReader()
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			c.readEnded(err)
			return
		}
		alive()
	}
}

// readEnded counts why a connection the server did not close ended.
func (c *client) readEnded(err error) {
	if c.serverClosing() {
		return
	}
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.hub.cnt.oversize.Add(1) // gorilla sent close 1009
	case errors.As(err, &ce):
		// The client closed, or the connection dropped (1006).
	case isTimeout(err):
		c.hub.cnt.pongTimeouts.Add(1)
	case errors.As(err, &ne), errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF):
		// The connection failed or was closed by the writer.
	case strings.HasPrefix(err.Error(), "websocket: "):
		c.hub.cnt.protocolErrors.Add(1) // gorilla sent close 1002
	}
	c.hub.opts.Logger.Debug("websocket client gone", "channel", c.ch.id, "track", c.tr.name,
		"remote", c.ip, "err", err)
}

// writeLoop is the client's only writer of data messages and pings.
func (c *client) writeLoop(conn *websocket.Conn) {
	o := &c.hub.opts
	ping := time.NewTicker(o.PingInterval)
	defer ping.Stop()
	var batch [][]byte
	for {
		var closing bool
		var code int
		var reason string
		batch, closing, code, reason = c.take(batch[:0])
		for _, m := range batch {
			if c.killed.Load() {
				break
			}
			_ = conn.SetWriteDeadline(time.Now().Add(o.WriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, m); err != nil {
				c.writeFailed(conn, err)
				return
			}
			c.ch.cnt.deliveries.Add(1)
			c.hub.cnt.deliveries.Add(1)
		}
		clear(batch)
		if closing {
			// Graceful: everything queued has been written. Killed: the
			// queue was dropped. Either way, nothing more will come.
			c.sendClose(conn, code, reason)
			return
		}
		select {
		case <-c.wake:
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(o.WriteTimeout)); err != nil {
				c.writeFailed(conn, err)
				return
			}
		case <-c.readerDone:
			return
		}
	}
}

// closeReplyWait bounds the wait for a client's reply to a close frame.
const closeReplyWait = 2 * time.Second

// sendClose sends a close frame, waits for the client's reply (the reader
// then returns) for at most closeReplyWait, and closes the connection.
func (c *client) sendClose(conn *websocket.Conn, code int, reason string) {
	wt := c.hub.opts.WriteTimeout
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(wt))
	t := time.NewTimer(min(wt, closeReplyWait))
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	t.Stop()
	conn.Close()
}

func (c *client) writeFailed(conn *websocket.Conn, err error) {
	if isTimeout(err) && !c.serverClosing() {
		c.hub.cnt.writeTimeouts.Add(1)
	}
	conn.Close() // the reader then fails with net.ErrClosed, which is not counted
	c.hub.opts.Logger.Debug("websocket write failed", "channel", c.ch.id, "track", c.tr.name,
		"remote", c.ip, "err", err)
}
