package hub

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/decoder"
)

func knownTrack(t string) bool { return t == decoder.TrackVerbatim || t == decoder.TrackSubtitle }

// Channel publishes one channel's captions to its clients. Its methods are
// safe for concurrent use and never block on clients.
type Channel struct {
	hub        *Hub
	id         string
	cnt        counters
	maxClients atomic.Int64
	nclients   int // guarded by hub.mu

	mu      sync.RWMutex
	tracks  map[string]*track
	order   []string // offered tracks, default first
	queue   int
	removed bool
}

// track is one channel+track feed: the ring of retained cues, the current
// partial and the subscribed clients. Its mutex orders every publish
// against every subscription, which is what makes replay + live exact.
type track struct {
	name string

	mu      sync.Mutex
	ring    ring
	lastID  uint64
	hasLast bool   // a cue was published (ids may start at 0)
	partial []byte // current partial (nil: none or empty)
	eos     []byte // set after EOS until the next publish
	closed  bool
	subs    map[*client]struct{}
}

func newChannel(h *Hub, id string, o ChannelOptions) *Channel {
	ch := &Channel{hub: h, id: id, tracks: make(map[string]*track)}
	ch.apply(o)
	return ch
}

// apply installs o; the caller holds ch.mu or owns ch exclusively. It
// returns the tracks that are no longer offered.
func (ch *Channel) apply(o ChannelOptions) (dropped []*track) {
	ch.maxClients.Store(int64(max(o.MaxClients, 0)))
	ch.queue = o.Queue
	ch.order = slices.Clone(o.Tracks)
	for name, tr := range ch.tracks {
		if !slices.Contains(o.Tracks, name) {
			dropped = append(dropped, tr)
			delete(ch.tracks, name)
		}
	}
	for _, name := range o.Tracks {
		tr := ch.tracks[name]
		if tr == nil {
			ch.tracks[name] = &track{name: name, ring: newRing(o.RingSize), subs: make(map[*client]struct{})}
			continue
		}
		tr.mu.Lock()
		if len(tr.ring.buf) != o.RingSize {
			tr.ring = tr.ring.resized(o.RingSize)
		}
		tr.mu.Unlock()
	}
	return dropped
}

func (ch *Channel) reconfigure(o ChannelOptions) {
	ch.mu.Lock()
	if ch.removed {
		ch.mu.Unlock()
		return
	}
	dropped := ch.apply(o)
	ch.mu.Unlock()
	for _, tr := range dropped {
		ch.closeTrack(tr, "track removed")
	}
}

func (ch *Channel) remove(reason string) {
	ch.mu.Lock()
	ch.removed = true
	trs := make([]*track, 0, len(ch.tracks))
	for _, tr := range ch.tracks {
		trs = append(trs, tr)
	}
	ch.mu.Unlock()
	for _, tr := range trs {
		ch.closeTrack(tr, reason)
	}
}

// closeTrack sends eos to the track's clients and closes them with 1001.
func (ch *Channel) closeTrack(tr *track, reason string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.closed = true
	msg := encodeEOS(ch.id, tr.name, tr.lastID, reason, ch.hub.opts.Clock())
	for c := range tr.subs {
		if c.enqueue(msg) {
			c.closeAfterDrain(websocket.CloseGoingAway, reason)
		} else {
			ch.countSlow(c)
		}
		delete(tr.subs, c)
	}
}

// ID returns the channel's id.
func (ch *Channel) ID() string { return ch.id }

// trackFor returns the offered track name, or the default track for "".
func (ch *Channel) trackFor(name string) *track {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	if name == "" && len(ch.order) > 0 {
		name = ch.order[0]
	}
	return ch.tracks[name]
}

func (ch *Channel) queueSize() int {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.queue
}

// lockTrack returns the named track locked, or an error.
func (ch *Channel) lockTrack(name string) (*track, error) {
	ch.mu.RLock()
	tr, removed := ch.tracks[name], ch.removed
	ch.mu.RUnlock()
	if removed || ch.hub.isClosed.Load() {
		return nil, fmt.Errorf("channel %q: %w", ch.id, ErrClosed)
	}
	if tr == nil {
		return nil, fmt.Errorf("channel %q, track %q: %w", ch.id, name, ErrUnknownTrack)
	}
	tr.mu.Lock()
	if tr.closed {
		tr.mu.Unlock()
		return nil, fmt.Errorf("channel %q, track %q: %w", ch.id, name, ErrClosed)
	}
	return tr, nil
}

// PublishCue sends a final cue to the clients of c.Track and retains it for
// resume. Its ID must be above every earlier cue of the track.
func (ch *Channel) PublishCue(c captions.Cue) error {
	tr, err := ch.lockTrack(c.Track)
	if err != nil {
		return err
	}
	defer tr.mu.Unlock()
	if tr.hasLast && c.ID <= tr.lastID {
		return fmt.Errorf("channel %q, track %q: cue %d after %d: %w", ch.id, c.Track, c.ID, tr.lastID, ErrNotMonotonic)
	}
	msg := encodeCue(ch.id, c, ch.hub.opts.Clock())
	tr.lastID, tr.hasLast = c.ID, true
	tr.ring.push(ringEntry{id: c.ID, msg: msg})
	tr.eos = nil
	ch.cnt.cues.Add(1)
	ch.hub.cnt.cues.Add(1)
	ch.fanOut(tr, msg)
	return nil
}

// PublishPartial replaces the track's partial. Clients that have not sent
// the previous partial yet get only this one. A partial with no lines
// clears the text on clients.
func (ch *Channel) PublishPartial(p captions.Partial) error {
	tr, err := ch.lockTrack(p.Track)
	if err != nil {
		return err
	}
	defer tr.mu.Unlock()
	msg := encodePartial(ch.id, p, ch.hub.opts.Clock())
	tr.partial = msg
	if len(p.Lines) == 0 {
		tr.partial = nil // a new client has nothing to clear
	}
	for c := range tr.subs {
		if c.setPartial(msg) {
			ch.cnt.partialsCoalesced.Add(1)
			ch.hub.cnt.partialsCoalesced.Add(1)
		}
	}
	return nil
}

// PublishGap tells the clients of every track that media time start..end
// (90 kHz PTS) has no captions, for example because audio was dropped.
// Gaps are live only: they are not replayed on resume.
func (ch *Channel) PublishGap(start, end int64, reason string) error {
	return ch.eachTrack(func(tr *track) {
		tr.eos = nil
		ch.fanOut(tr, encodeMediaGap(ch.id, tr.name, start, end, reason, ch.hub.opts.Clock()))
	})
}

// EOS tells the clients of every track that the stream ended; they stay
// connected. Clients that connect later get eos after their hello and
// replay, until the next publish.
func (ch *Channel) EOS() error {
	return ch.eachTrack(func(tr *track) {
		tr.partial = nil
		tr.eos = encodeEOS(ch.id, tr.name, tr.lastID, "end of stream", ch.hub.opts.Clock())
		ch.fanOut(tr, tr.eos)
	})
}

func (ch *Channel) eachTrack(f func(*track)) error {
	ch.mu.RLock()
	names := slices.Clone(ch.order)
	ch.mu.RUnlock()
	for _, name := range names {
		tr, err := ch.lockTrack(name)
		if err != nil {
			if errors.Is(err, ErrUnknownTrack) {
				continue // removed meanwhile by reconfigure
			}
			return err
		}
		f(tr)
		tr.mu.Unlock()
	}
	return nil
}

// fanOut queues an ordered message to every subscriber of tr (locked).
// Clients whose queue overflows are dropped from tr and closed with 1013.
func (ch *Channel) fanOut(tr *track, msg []byte) {
	for c := range tr.subs {
		if !c.enqueue(msg) {
			delete(tr.subs, c)
			ch.countSlow(c)
		}
	}
}

func (ch *Channel) countSlow(c *client) {
	ch.cnt.slow.Add(1)
	ch.hub.cnt.slow.Add(1)
	ch.hub.opts.Logger.Info("websocket client too slow, closed with 1013",
		"channel", ch.id, "track", c.tr.name, "remote", c.ip)
}

// subscribe registers c on tr and prepares what c gets before live
// messages: hello, a gap when since is older than the ring, the retained
// cues with id >= since, the current partial and a pending eos. It runs
// under tr.mu, so no cue published concurrently is missed or repeated.
// It returns false when the track was closed meanwhile.
func (ch *Channel) subscribe(c *client, p Params) bool {
	tr := c.tr
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return false
	}
	now := ch.hub.opts.Clock()
	first, last, retained := tr.ring.span()
	hello := helloMsg{
		Type: TypeHello, Protocol: ProtocolVersion, Channel: ch.id, Track: tr.name,
		ServerTime: wallTime(now), LastID: tr.lastID, RetainedFrom: first, RetainedTo: last,
	}
	var replay [][]byte
	var gap []byte
	if p.HasSince {
		since := p.Since
		hello.Since = &since
		// Ids in [since, first) were published but are no longer retained
		// (with nothing retained, every id up to lastID is lost).
		lostTo, lost := tr.lastID, tr.hasLast
		if retained {
			lostTo, lost = first-1, first > 0
		}
		if lost && since <= lostTo {
			gap = encodeLostGap(ch.id, tr.name, since, lostTo, now)
			ch.cnt.resumeGaps.Add(1)
			ch.hub.cnt.resumeGaps.Add(1)
		}
		replay = tr.ring.since(make([][]byte, 0, 2), since)
	}
	hello.Replay = len(replay)
	msgs := make([][]byte, 0, len(replay)+2)
	msgs = append(msgs, encode(hello))
	if gap != nil {
		msgs = append(msgs, gap)
	}
	msgs = append(msgs, replay...)
	c.start(msgs, tr.partial, tr.eos)
	tr.subs[c] = struct{}{}
	return true
}

// unsubscribe removes c from its track (a no-op when already removed).
func (ch *Channel) unsubscribe(c *client) {
	c.tr.mu.Lock()
	delete(c.tr.subs, c)
	c.tr.mu.Unlock()
}

// Stats returns a snapshot of the channel's counters.
func (ch *Channel) Stats() ChannelStats {
	ch.hub.mu.Lock()
	n := ch.nclients
	ch.hub.mu.Unlock()
	s := ChannelStats{
		Clients:               n,
		Deliveries:            ch.cnt.deliveries.Load(),
		Cues:                  ch.cnt.cues.Load(),
		PartialsCoalesced:     ch.cnt.partialsCoalesced.Load(),
		SlowClientDisconnects: ch.cnt.slow.Load(),
		LastID:                make(map[string]uint64),
	}
	ch.mu.RLock()
	trs := make([]*track, 0, len(ch.tracks))
	for _, tr := range ch.tracks {
		trs = append(trs, tr)
	}
	ch.mu.RUnlock()
	for _, tr := range trs {
		tr.mu.Lock()
		s.LastID[tr.name] = tr.lastID
		tr.mu.Unlock()
	}
	return s
}
