package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/subtitled/subtitled/config"
	"github.com/subtitled/subtitled/ingest"
	"github.com/subtitled/subtitled/ingest/mpegts"
	"github.com/subtitled/subtitled/ingest/webrtc"
	"github.com/subtitled/subtitled/pipeline"
)

// whipConfig maps the config's whip section onto the WHIP server.
func whipConfig(c *config.Config, d *daemon) webrtc.Config {
	w := c.WHIP
	return webrtc.Config{
		MaxSessions:    w.MaxSessions,
		SetupTimeout:   w.SetupTimeout,
		AllowedOrigins: w.AllowedOrigins,
		MaxBodyBytes:   int64(c.Limits.MaxRequestBytes),
		ICE: webrtc.ICEConfig{
			UDPPortMin:  uint16(w.ICE.UDPPortMin),
			UDPPortMax:  uint16(w.ICE.UDPPortMax),
			NAT1To1IPs:  w.ICE.NAT1To1IPs,
			STUNServers: w.ICE.STUNServers,
			Interfaces:  w.ICE.Interfaces,
			Loopback:    w.ICE.Loopback,
		},
		Logger: d.log.With("component", "whip"),
	}
}

// whipHandler serves /v1/whip/; without a WHIP server every request gets 404.
func (d *daemon) whipHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.whip == nil {
			http.NotFound(w, r)
			return
		}
		d.whip.ServeHTTP(w, r)
	})
}

// isWHIP reports whether the channel's input is a WHIP publisher.
func isWHIP(cc config.Channel) bool {
	s, err := cc.Input.Source()
	return err == nil && s.Kind == config.SourceWHIP
}

// publisher is the channel's WHIP publisher registration: packets go to the
// queue of the channel's current run.
func (c *channel) publisher() webrtc.Publisher {
	w := config.DefaultWHIPChannel()
	if c.cfg.WHIP != nil {
		w = *c.cfg.WHIP
	}
	return webrtc.Publisher{
		Token:        w.Bearer(),
		AllowReplace: w.AllowReplace,
		RejectVideo:  w.Video == "reject",
		OnPacket:     c.whipPacket,
		OnSession:    c.whipSession,
	}
}

// whipPacket queues one Opus packet for recognition. Without a running
// pipeline (between restarts) the packet is counted as dropped.
func (c *channel) whipPacket(p webrtc.Packet) {
	c.mu.Lock()
	q := c.queue
	c.mu.Unlock()
	if q == nil {
		c.d.metrics.whipDropped.WithLabelValues(c.id).Inc()
		return
	}
	it := pesItem{
		pes: mpegts.PES{
			Codec: ingest.CodecOpus, PTS: p.PTS, HasPTS: true,
			Data: p.Data, Discontinuity: p.Discontinuity,
		},
		arrived:  p.Arrived,
		raw:      true,
		channels: p.Channels,
	}
	// DropOldest never blocks; a closed queue means the run is ending.
	if err := q.Push(context.Background(), it); err != nil && !errors.Is(err, pipeline.ErrClosed) {
		c.log.Warn("whip packet", "err", err)
	}
}

// whipSession counts publishers coming and going and tracks the state (the
// WHIP server logs them).
func (c *channel) whipSession(ev webrtc.SessionEvent) {
	if ev.Started {
		c.log.Debug("WHIP session started", "session", ev.Session, "remote", ev.Remote)
		c.d.metrics.whipSessions.WithLabelValues(c.id, "started").Inc()
		return
	}
	c.log.Debug("WHIP session ended", "session", ev.Session, "reason", ev.Reason)
	c.d.metrics.whipSessions.WithLabelValues(c.id, "ended").Inc()
	c.setState(stateWaiting, nil)
}

// runWHIP runs the recognition of a WHIP channel: publishers come and go
// while the chain stays up, so cue IDs and caption time continue. It ends
// only with ctx.
func (c *channel) runWHIP(ctx context.Context) error {
	ch, err := c.newChain()
	if err != nil {
		return err
	}
	defer ch.close()
	// 20 ms packets: four times the PES queue holds about as much audio.
	q := pipeline.NewQueue[pesItem](4*max(c.d.cfg.Limits.QueueSize, 16), pipeline.DropOldest)
	cs, _ := c.whipStats()
	c.mu.Lock()
	c.queue, c.chain = q, ch
	c.mu.Unlock()
	if !cs.Active {
		c.setState(stateWaiting, nil)
	}
	defer func() {
		c.mu.Lock()
		c.queue, c.chain = nil, nil
		c.mu.Unlock()
		q.Close()
	}()
	err = c.recognise(ctx, ch, q, true)
	if ferr := ch.finish(); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("whip: %w", err)
	}
	return nil
}

// whipStats returns the WHIP server's counters for this channel. Call it
// without c.mu held.
func (c *channel) whipStats() (webrtc.ChannelStats, bool) {
	if c.d.whip == nil || !isWHIP(c.cfg) {
		return webrtc.ChannelStats{}, false
	}
	cs, ok := c.d.whip.Stats().Channels[c.id]
	return cs, ok
}

// whipInput fills the input part of a WHIP channel's status; c.mu is held.
// The bitrate is measured between snapshots at least a second apart.
func (c *channel) whipInput(st *channelStatus, cs webrtc.ChannelStats, ok bool) {
	st.Input.State = "closed"
	if !ok {
		return
	}
	now := time.Now()
	if dt := now.Sub(c.whipAt).Seconds(); dt >= 1 {
		if !c.whipAt.IsZero() && cs.Bytes >= c.whipBytes {
			c.whipRate = float64(cs.Bytes-c.whipBytes) * 8 / dt
		}
		c.whipBytes, c.whipAt = cs.Bytes, now
	}
	st.Input.Bytes = cs.Bytes
	st.Input.LostPackets = cs.Lost
	st.Input.State = "waiting"
	if cs.Active {
		st.Input.State = "live"
		st.Input.Session = cs.Session
		st.Input.Remote = cs.Remote
		st.Input.BitrateBps = c.whipRate
	}
}
