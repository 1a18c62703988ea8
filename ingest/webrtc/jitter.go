package webrtc

import "time"

// Reorder-buffer limits. A missing packet is waited for while fewer than
// jitterMaxHeld packets are held behind it and the held media spans at most
// jitterMaxSpan; then it is given up as lost.
const (
	jitterWindow   = 16   // sequence numbers the buffer can address ahead of the next expected one (power of two)
	jitterMaxHeld  = 8    // packets held behind a gap before the gap is given up
	jitterMaxSpan  = 3840 // RTP ticks (80 ms at 48 kHz) held behind a gap before it is given up
	maxMisorder    = 100  // a packet this far behind the next expected one restarts the stream instead of being dropped as late
	maxDropout     = 3000 // a jump this far ahead restarts the stream instead of counting thousands of losses
	maxPayloadSize = 1500 // largest payload a slot stores without growing
)

// rtpEntry is one packet leaving the reorder buffer, in sequence order.
type rtpEntry struct {
	seq     uint16
	ts      uint32
	pt      uint8
	arrived time.Time
	payload []byte // valid only during the emit callback
	// discont is set on the first packet after a start, a restart or a
	// given-up gap.
	discont bool
}

type jitterSlot struct {
	used    bool
	seq     uint16
	ts      uint32
	pt      uint8
	arrived time.Time
	buf     []byte
}

// jitterStats are the reorder buffer's cumulative counters.
type jitterStats struct {
	Lost       uint64 // sequence numbers given up
	Reordered  uint64 // packets that arrived after a higher sequence number and were still put in order
	Duplicates uint64 // packets whose sequence number was already held or emitted
	Late       uint64 // packets that arrived after their gap was given up
	Restarts   uint64 // sequence jumps treated as a new stream
}

// jitterBuffer puts RTP packets of one SSRC back in sequence-number order
// (16-bit, with wrap). It holds at most jitterMaxHeld packets or
// jitterMaxSpan ticks of media behind a missing packet, then skips it. It
// never allocates after its slots have been used once, except to grow a slot
// for a payload above maxPayloadSize.
type jitterBuffer struct {
	slots   [jitterWindow]jitterSlot
	started bool
	next    uint16 // next sequence number to emit
	highest uint16 // highest sequence number accepted
	held    int
	// lastTS is the RTP timestamp of the last emitted packet.
	lastTS uint32
	// history bit i set: sequence number next-1-i was emitted (not lost).
	history uint64
	discont bool
	stats   jitterStats
	emit    func(*rtpEntry)
	entry   rtpEntry
}

// newJitterBuffer returns a buffer that hands packets, in order, to emit.
func newJitterBuffer(emit func(*rtpEntry)) *jitterBuffer {
	return &jitterBuffer{emit: emit}
}

// Held is the number of packets waiting behind a gap.
func (j *jitterBuffer) Held() int { return j.held }

// Stats returns the cumulative counters.
func (j *jitterBuffer) Stats() jitterStats { return j.stats }

// Reset forgets the stream (held packets are dropped, not emitted); the next
// packet starts a new stream and is marked as a discontinuity. Counters are
// kept.
func (j *jitterBuffer) Reset() {
	for i := range j.slots {
		j.slots[i].used = false
	}
	j.held = 0
	j.started = false
	j.history = 0
}

// Push adds one packet. payload is copied when the packet has to wait.
func (j *jitterBuffer) Push(seq uint16, ts uint32, pt uint8, payload []byte, arrived time.Time) {
	if !j.started {
		j.start(seq)
	}
	d := int(int16(seq - j.next))
	switch {
	case d < -maxMisorder || d >= maxDropout:
		// The sender restarted its sequence: drain what we hold, begin anew.
		j.Flush()
		j.stats.Restarts++
		j.start(seq)
		d = 0
	case d < 0:
		if back := -d - 1; back < 64 && j.history&(1<<uint(back)) != 0 {
			j.stats.Duplicates++
		} else {
			j.stats.Late++
		}
		return
	case d >= jitterWindow:
		j.skipTo(seq)
		d = int(int16(seq - j.next))
	}

	if d == 0 && j.held == 0 {
		// Fast path: in order with nothing waiting, no copy.
		j.noteHighest(seq)
		j.emitOne(seq, ts, pt, payload, arrived)
		j.next++
		return
	}

	s := &j.slots[seq%jitterWindow]
	if s.used {
		// Window == slot count, so a used slot in range holds this very seq.
		j.stats.Duplicates++
		return
	}
	j.noteHighest(seq)
	s.used = true
	s.seq = seq
	s.ts = ts
	s.pt = pt
	s.arrived = arrived
	if cap(s.buf) < len(payload) {
		s.buf = make([]byte, 0, max(len(payload), maxPayloadSize))
	}
	s.buf = append(s.buf[:0], payload...)
	j.held++
	j.drain()
	for j.held > 0 && (j.held > jitterMaxHeld || j.spanExceeded()) {
		j.skipGap()
		j.drain()
	}
}

// Flush gives up every gap and emits everything held.
func (j *jitterBuffer) Flush() {
	for j.held > 0 {
		j.skipGap()
		j.drain()
	}
}

func (j *jitterBuffer) start(seq uint16) {
	j.started = true
	j.next = seq
	j.highest = seq
	j.history = 0
	j.discont = true
}

func (j *jitterBuffer) noteHighest(seq uint16) {
	if int16(seq-j.highest) < 0 {
		j.stats.Reordered++
		return
	}
	j.highest = seq
}

// spanExceeded reports whether the newest held packet is more than
// jitterMaxSpan ticks after the last emitted one.
func (j *jitterBuffer) spanExceeded() bool {
	s := &j.slots[j.highest%jitterWindow]
	if !s.used || s.seq != j.highest {
		return false
	}
	return int64(int32(s.ts-j.lastTS)) > jitterMaxSpan
}

// drain emits consecutive held packets starting at next.
func (j *jitterBuffer) drain() {
	for j.held > 0 {
		s := &j.slots[j.next%jitterWindow]
		if !s.used || s.seq != j.next {
			return
		}
		s.used = false
		j.held--
		j.emitOne(s.seq, s.ts, s.pt, s.buf, s.arrived)
		j.next++
	}
}

// skipGap advances next over the missing sequence numbers before the first
// held packet, counting them lost.
func (j *jitterBuffer) skipGap() {
	for i := 0; i < jitterWindow; i++ {
		s := &j.slots[j.next%jitterWindow]
		if s.used && s.seq == j.next {
			return
		}
		j.markLost(1)
		j.next++
	}
}

// skipTo makes room so that seq falls inside the window: held packets are
// emitted and missing sequence numbers are counted lost.
func (j *jitterBuffer) skipTo(seq uint16) {
	for j.held > 0 && int(int16(seq-j.next)) >= jitterWindow {
		s := &j.slots[j.next%jitterWindow]
		if s.used && s.seq == j.next {
			j.drain()
			continue
		}
		j.markLost(1)
		j.next++
	}
	if d := int(int16(seq - j.next)); d >= jitterWindow {
		// Nothing held: jump straight there.
		j.markLost(d)
		j.next = seq
	}
}

func (j *jitterBuffer) markLost(n int) {
	j.stats.Lost += uint64(n)
	j.discont = true
	if n >= 64 {
		j.history = 0
	} else {
		j.history <<= uint(n)
	}
}

func (j *jitterBuffer) emitOne(seq uint16, ts uint32, pt uint8, payload []byte, arrived time.Time) {
	j.history = j.history<<1 | 1
	j.lastTS = ts
	e := &j.entry
	e.seq, e.ts, e.pt, e.payload, e.arrived = seq, ts, pt, payload, arrived
	e.discont = j.discont
	j.discont = false
	j.emit(e)
	e.payload = nil
}
