package webrtc

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

const (
	ptsClock = 90000
	// defaultPacketTicks is the assumed length (in 90 kHz ticks) of a packet
	// whose length is not known yet: 20 ms.
	defaultPacketTicks = ptsClock / 50
	// maxAheadOfWall is how far the RTP clock may run ahead of the wall
	// clock between two packets before it is treated as a timestamp jump.
	maxAheadOfWall = 10 * time.Second
)

// timeline is a channel's media clock. It outlives sessions so that a
// reconnecting publisher continues forward: each new RTP mapping starts at
// the wall-clock offset since the channel's first packet, or just after the
// last PTS when that is later.
type timeline struct {
	started bool
	epoch   time.Time
	handed  bool  // a PTS was handed out
	last    int64 // last PTS handed out
	lastDur int64 // ticks between the last two packets of the last mapping
}

func (t *timeline) wall(at time.Time) int64 {
	if !t.started {
		t.started = true
		t.epoch = at
		return 0
	}
	return int64(at.Sub(t.epoch)) * ptsClock / int64(time.Second)
}

// channelCounters are a channel's live counters, read by Stats.
type channelCounters struct {
	packets, bytes, lost, reordered, duplicates, late, discont, sessions atomic.Uint64
}

// mediaProc turns the RTP packets of one session into Packets: reorder,
// SSRC tracking, timestamp unwrapping and the mapping onto the channel
// timeline. It is not safe for concurrent use.
type mediaProc struct {
	channel, session string
	tl               *timeline
	counters         *channelCounters
	channelsByPT     *[128]uint8
	out              func(Packet)

	jb       *jitterBuffer
	seen     jitterStats
	haveSSRC bool
	ssrc     uint32
	// pendingDiscont carries a discontinuity over skipped (empty) packets and
	// SSRC changes to the next emitted packet.
	pendingDiscont bool

	mapped    bool
	baseTS    int64 // unwrapped RTP timestamp at basePTS
	basePTS   int64
	lastRaw   uint32
	lastTS    int64 // unwrapped
	lastWall  time.Time
	lastPTS   int64
	havePrev  bool
	clockRate uint32
}

func newMediaProc(channel, session string, tl *timeline, counters *channelCounters,
	channelsByPT *[128]uint8, clockRate uint32, out func(Packet)) *mediaProc {
	if clockRate == 0 {
		clockRate = 48000
	}
	m := &mediaProc{
		channel: channel, session: session, tl: tl, counters: counters,
		channelsByPT: channelsByPT, out: out, clockRate: clockRate,
		pendingDiscont: true,
	}
	m.jb = newJitterBuffer(m.ordered)
	return m
}

// handle takes one received RTP packet.
func (m *mediaProc) handle(p *rtp.Packet, arrived time.Time) {
	if !m.haveSSRC || p.SSRC != m.ssrc {
		if m.haveSSRC {
			// A new source: finish the old one, then start a new mapping.
			m.jb.Flush()
			m.jb.Reset()
			m.mapped = false
			m.pendingDiscont = true
		}
		m.haveSSRC = true
		m.ssrc = p.SSRC
	}
	m.jb.Push(p.SequenceNumber, p.Timestamp, p.PayloadType, p.Payload, arrived)
	m.syncCounters()
}

// flush emits everything held (the stream stalled behind a gap).
func (m *mediaProc) flush() {
	m.jb.Flush()
	m.syncCounters()
}

// held is the number of packets waiting in the reorder buffer.
func (m *mediaProc) held() int { return m.jb.Held() }

func (m *mediaProc) syncCounters() {
	st := m.jb.Stats()
	if st == m.seen {
		return
	}
	m.counters.lost.Add(st.Lost - m.seen.Lost)
	m.counters.reordered.Add(st.Reordered - m.seen.Reordered)
	m.counters.duplicates.Add(st.Duplicates - m.seen.Duplicates)
	m.counters.late.Add(st.Late - m.seen.Late)
	m.seen = st
}

// ordered receives packets from the reorder buffer in sequence order.
func (m *mediaProc) ordered(e *rtpEntry) {
	discont := e.discont || m.pendingDiscont
	m.pendingDiscont = false
	if len(e.payload) == 0 {
		// Padding-only or empty: nothing to decode, keep the flag for the next.
		m.pendingDiscont = discont
		return
	}
	if m.remapNeeded(e) {
		m.remap(e)
		discont = true
	}
	d := int64(int32(e.ts - m.lastRaw))
	m.lastRaw = e.ts
	m.lastTS += d
	m.lastWall = e.arrived
	pts := m.basePTS + (m.lastTS-m.baseTS)*ptsClock/int64(m.clockRate)
	if pts < m.tl.last {
		pts = m.tl.last // never step back, whatever the sender's clock does
	}
	if m.havePrev {
		if dur := pts - m.lastPTS; dur > 0 && dur <= ptsClock {
			m.tl.lastDur = dur
		}
	}
	m.havePrev = true
	m.lastPTS = pts
	m.tl.last = pts
	m.tl.handed = true

	data := make([]byte, len(e.payload))
	copy(data, e.payload)
	ch := 1
	if m.channelsByPT != nil && e.pt < 128 && m.channelsByPT[e.pt] == 2 {
		ch = 2
	}
	m.counters.packets.Add(1)
	m.counters.bytes.Add(uint64(len(data)))
	if discont {
		m.counters.discont.Add(1)
	}
	m.out(Packet{
		Channel:       m.channel,
		Session:       m.session,
		Data:          data,
		PTS:           pts,
		Discontinuity: discont,
		Channels:      ch,
		Arrived:       e.arrived,
	})
}

// remapNeeded reports whether e cannot continue the current mapping: none
// yet, the timestamp went backwards, or it jumped far ahead of the wall clock.
func (m *mediaProc) remapNeeded(e *rtpEntry) bool {
	if !m.mapped {
		return true
	}
	d := int64(int32(e.ts - m.lastRaw))
	if d < 0 {
		return true
	}
	ahead := time.Duration(d*int64(time.Second)/int64(m.clockRate)) - e.arrived.Sub(m.lastWall)
	return ahead > maxAheadOfWall
}

func (m *mediaProc) remap(e *rtpEntry) {
	start := m.tl.wall(e.arrived)
	if m.tl.handed {
		dur := m.tl.lastDur
		if dur <= 0 {
			dur = defaultPacketTicks
		}
		if floor := m.tl.last + dur; start < floor {
			start = floor
		}
	}
	m.mapped = true
	m.basePTS = start
	m.lastRaw = e.ts
	m.lastTS = int64(e.ts)
	m.baseTS = m.lastTS
	m.lastWall = e.arrived
	m.havePrev = false
}
