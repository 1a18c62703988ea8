package source

import (
	"sync"
	"time"
)

// bitrateBuckets is how many slices the bitrate window is kept in.
const bitrateBuckets = 10

// meter holds the state and counters every source shares. Its methods are
// safe for concurrent use.
type meter struct {
	clock  Clock
	stall  time.Duration
	window time.Duration
	slice  time.Duration
	kind   Kind
	addr   string

	mu        sync.Mutex
	state     State
	since     time.Time
	firstData time.Time
	lastData  time.Time
	bytesIn   uint64
	// sums[i] holds the bytes of time slice ids[i] (slice number since the
	// epoch); a slot is reused when its slice leaves the window.
	sums         [bitrateBuckets]uint64
	ids          [bitrateBuckets]int64
	reconnects   uint64
	loops        uint64
	datagrams    uint64
	rtp          uint64
	drops        uint64
	droppedBytes uint64
	recvBuffer   int
	lastErr      string
}

func newMeter(kind Kind, addr string, o Options) *meter {
	m := &meter{
		clock:  o.Clock,
		stall:  o.StallTimeout,
		window: o.BitrateWindow,
		slice:  max(o.BitrateWindow/bitrateBuckets, time.Nanosecond),
		kind:   kind,
		addr:   addr,
		state:  StateConnecting,
		since:  o.Clock.Now(),
	}
	for i := range m.ids {
		m.ids[i] = -1
	}
	return m
}

// data records n bytes arriving now.
func (m *meter) data(n int) {
	if n <= 0 {
		return
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addLocked(now, n)
}

func (m *meter) addLocked(now time.Time, n int) {
	switch {
	case m.state == StateConnecting:
		m.state, m.since = StateLive, now
	case m.state == StateLive && now.Sub(m.lastData) >= m.stall:
		m.since = now // back from a stall
	}
	if m.firstData.IsZero() {
		m.firstData = now
	}
	m.lastData = now
	m.bytesIn += uint64(n)
	id := now.UnixNano() / int64(m.slice)
	i := int(uint64(id) % bitrateBuckets)
	if m.ids[i] != id {
		m.ids[i], m.sums[i] = id, 0
	}
	m.sums[i] += uint64(n)
}

// setState moves to s (connecting, failed or closed) and records err when
// it is not nil. Nothing leaves closed, and only closed leaves failed.
func (m *meter) setState(s State, err error) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.lastErr = err.Error()
	}
	if m.state == StateClosed || m.state == StateFailed && s != StateClosed || m.state == s {
		return
	}
	m.state, m.since = s, now
}

// countReconnect counts a connection attempt after the first.
func (m *meter) countReconnect() {
	m.mu.Lock()
	m.reconnects++
	m.mu.Unlock()
}

// noteError records err without changing the state.
func (m *meter) noteError(err error) {
	m.mu.Lock()
	m.lastErr = err.Error()
	m.mu.Unlock()
}

func (m *meter) loop() {
	m.mu.Lock()
	m.loops++
	m.mu.Unlock()
}

// datagram records a datagram of n TS bytes taken off the socket; rtp says
// whether an RTP header was stripped from it.
func (m *meter) datagram(n int, rtp bool) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.datagrams++
	if rtp {
		m.rtp++
	}
	m.addLocked(now, n)
}

func (m *meter) drop(n int) {
	m.mu.Lock()
	m.drops++
	m.droppedBytes += uint64(n)
	m.mu.Unlock()
}

func (m *meter) setRecvBuffer(n int) {
	m.mu.Lock()
	m.recvBuffer = n
	m.mu.Unlock()
}

func (m *meter) stats() Stats {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{
		Kind:         m.kind,
		State:        m.state,
		Addr:         m.addr,
		BytesIn:      m.bytesIn,
		LastData:     m.lastData,
		Since:        m.since,
		Reconnects:   m.reconnects,
		LastError:    m.lastErr,
		Loops:        m.loops,
		Datagrams:    m.datagrams,
		RTPDatagrams: m.rtp,
		Drops:        m.drops,
		DroppedBytes: m.droppedBytes,
		RecvBuffer:   m.recvBuffer,
	}
	if s.State == StateLive && now.Sub(m.lastData) >= m.stall {
		s.State, s.Since = StateStalled, m.lastData.Add(m.stall)
	}
	s.BitrateBps = m.bitrateLocked(now)
	return s
}

// bitrateLocked sums the slices of the window ending now (the current slice,
// partly elapsed, and the bitrateBuckets-1 before it) and divides by their
// span, or by the time since the first byte when that is shorter.
func (m *meter) bitrateLocked(now time.Time) float64 {
	if m.firstData.IsZero() {
		return 0
	}
	cur := now.UnixNano() / int64(m.slice)
	var sum uint64
	for i, id := range m.ids {
		if id >= 0 && id > cur-bitrateBuckets && id <= cur {
			sum += m.sums[i]
		}
	}
	span := time.Duration(bitrateBuckets-1)*m.slice + time.Duration(now.UnixNano()-cur*int64(m.slice))
	if age := now.Sub(m.firstData); age < span {
		span = max(age, m.slice/10)
	}
	return float64(sum) * 8 / span.Seconds()
}
