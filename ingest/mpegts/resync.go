package mpegts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// PacketSize is the size of an MPEG-TS packet (ISO/IEC 13818-1 §2.4.3.2).
const PacketSize = 188

const (
	syncByte = 0x47

	// acquirePackets sync bytes in a row at packet steps acquire sync. ETSI
	// TR 101 290 §5.2.1 uses 5 to acquire and 2 bad ones to declare loss.
	acquirePackets = 5

	// DefaultNotTSLimit is how many bytes Resync scans for a first sync
	// pattern before it gives up with ErrNotTS.
	DefaultNotTSLimit = 64 << 10

	readChunk = 64 << 10
	// maxEmptyReads bounds Read calls that return (0, nil) in a row.
	maxEmptyReads = 100
)

// strides are the packet framings Resync accepts, in the order it tries them:
// plain 188-byte packets, 204-byte packets (16 Reed-Solomon bytes after each
// packet, DVB-ASI captures) and 192-byte M2TS packets (a 4-byte time code
// before each packet). The extra bytes are dropped; packets come out as 188.
var strides = [...]int{PacketSize, 204, 192}

// ResyncStats counts what Resync did with its input. Every byte read is
// accounted for exactly once:
// BytesRead = Packets·188 + StrideBytes + BytesSkipped + TailBytes + buffered.
type ResyncStats struct {
	// BytesRead is the number of bytes read from the underlying reader.
	BytesRead uint64
	// Packets is the number of aligned 188-byte packets delivered.
	Packets uint64
	// SyncLosses counts losses of sync (TR 101 290 1.1 TS_sync_loss): two
	// bad sync bytes in a row, after which Resync hunts for sync again.
	SyncLosses uint64
	// SyncByteErrors counts packets whose sync byte was not 0x47 where one
	// was due (TR 101 290 1.2 Sync_byte_error).
	SyncByteErrors uint64
	// BytesSkipped counts bytes dropped while hunting for sync, and packets
	// dropped because their own sync byte was corrupt.
	BytesSkipped uint64
	// StrideBytes counts the framing bytes of 192- and 204-byte packets.
	StrideBytes uint64
	// TailBytes counts the bytes of a truncated packet at the end of input.
	TailBytes uint64
	// PacketStride is the framing in use: 188, 192 or 204; 0 before sync.
	PacketStride int
}

// Resync reads a byte stream and yields whole, aligned transport stream
// packets, whatever garbage, misalignment or truncation the input contains.
//
// It acquires sync when acquirePackets sync bytes follow each other at packet
// steps (fewer at the very end of input), drops the bytes before them, and
// hunts again after two bad sync bytes in a row. A single packet whose sync
// byte is corrupt while its neighbours are fine is dropped. Use NextPacket
// for zero-copy access, or Resync as an io.Reader (for example in front of
// astits.NewDemuxer), which yields the same packets as a byte stream.
//
// A Resync is not safe for concurrent use.
type Resync struct {
	r          io.Reader
	buf        []byte
	start, end int   // buffered bytes are buf[start:end]
	err        error // sticky error from r, io.EOF included
	fatal      error // sticky error returned by NextPacket

	stride     int
	synced     bool
	everSynced bool
	pad        int // framing bytes still to skip before the next packet
	notTSLimit int

	cur   []byte // rest of the packet being copied out by Read
	stats ResyncStats
}

// NewResync returns a Resync reading from r. It gives up with ErrNotTS when
// the first DefaultNotTSLimit bytes hold no sync pattern.
func NewResync(r io.Reader) *Resync {
	return &Resync{r: r, buf: make([]byte, 2*readChunk), notTSLimit: DefaultNotTSLimit}
}

// Stats returns the counters so far.
func (rs *Resync) Stats() ResyncStats {
	s := rs.stats
	s.PacketStride = rs.stride
	return s
}

// NextPacket returns the next aligned 188-byte packet. The slice is only
// valid until the next call to NextPacket or Read; copy it to keep it.
//
// At the end of input it returns io.EOF (a truncated last packet is counted
// in TailBytes), ErrNotTS when sync was never found, and otherwise the
// reader's error once the packets read before it have been delivered.
func (rs *Resync) NextPacket() ([]byte, error) {
	for {
		if rs.fatal != nil {
			return nil, rs.fatal
		}
		if !rs.synced {
			if !rs.hunt() {
				continue // hunt sets rs.fatal when it gives up
			}
		}
		if rs.pad > 0 {
			n := min(rs.pad, rs.fillUpTo(rs.pad))
			rs.start += n
			rs.pad -= n
			rs.stats.StrideBytes += uint64(n)
			if rs.pad > 0 {
				rs.end0()
				continue
			}
		}
		if !rs.fill(PacketSize) {
			rs.end0()
			continue
		}
		if rs.buf[rs.start] == syncByte {
			p := rs.buf[rs.start : rs.start+PacketSize : rs.start+PacketSize]
			rs.start += PacketSize
			rs.pad = rs.stride - PacketSize
			rs.stats.Packets++
			return p, nil
		}
		rs.stats.SyncByteErrors++
		run, avail := rs.syncRun(rs.stride, rs.stride, 2)
		if avail == 0 || run == avail {
			// Only this packet's sync byte is bad (or it is the last
			// one): drop the packet and stay in sync.
			n := min(rs.stride, rs.end-rs.start)
			rs.skip(n)
			continue
		}
		rs.stats.SyncLosses++
		rs.synced = false
	}
}

// Read implements io.Reader. The bytes it yields are the concatenation of the
// packets NextPacket would return.
func (rs *Resync) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(rs.cur) == 0 {
			if n > 0 && rs.end-rs.start < rs.pad+PacketSize {
				break // do not block for more input while holding data
			}
			pkt, err := rs.NextPacket()
			if err != nil {
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			rs.cur = pkt
		}
		c := copy(p[n:], rs.cur)
		rs.cur = rs.cur[c:]
		n += c
	}
	return n, nil
}

// end0 handles the end of input (or a read error) with fewer bytes buffered
// than needed: it sets the sticky error NextPacket returns.
func (rs *Resync) end0() {
	if !errors.Is(rs.err, io.EOF) {
		rs.fatal = fmt.Errorf("mpegts: reading input: %w", rs.err)
		return
	}
	if !rs.everSynced {
		if rs.stats.BytesRead == 0 {
			rs.fatal = fmt.Errorf("%w: empty input", ErrNotTS)
		} else {
			rs.fatal = fmt.Errorf("%w: no sync pattern in %d bytes", ErrNotTS, rs.stats.BytesRead)
		}
		return
	}
	rs.stats.TailBytes += uint64(rs.end - rs.start)
	rs.start = rs.end
	rs.fatal = io.EOF
}

// hunt looks for sync from rs.start. It returns true when sync is acquired
// and false when it gave up (rs.fatal is then set).
func (rs *Resync) hunt() bool {
	for {
		if !rs.everSynced && rs.stats.BytesSkipped > uint64(rs.notTSLimit) {
			rs.fatal = fmt.Errorf("%w: no sync pattern in the first %d bytes", ErrNotTS, rs.notTSLimit)
			return false
		}
		if !rs.fill(1) {
			rs.end0()
			return false
		}
		i := bytes.IndexByte(rs.buf[rs.start:rs.end], syncByte)
		if i < 0 {
			rs.skip(rs.end - rs.start)
			continue
		}
		if rs.skip(i); !rs.everSynced && rs.stats.BytesSkipped > uint64(rs.notTSLimit) {
			continue
		}
		for _, s := range strides {
			run, avail := rs.syncRun(0, s, acquirePackets)
			need := acquirePackets
			if avail < need { // end of input: accept what is there
				need = avail
				if !rs.everSynced {
					need = max(need, 2)
				}
			}
			if run >= need && rs.fill(PacketSize) {
				if s == 192 {
					// The first byte of an M2TS time stamp can be 0x47 for
					// many packets in a row; the packet then starts 4 later.
					if r4, a4 := rs.syncRun(4, s, acquirePackets); a4 > 0 && r4 == a4 {
						rs.skip(4)
					}
				}
				rs.stride = s
				rs.synced = true
				rs.everSynced = true
				rs.pad = 0
				return true
			}
		}
		rs.skip(1)
	}
}

// syncRun checks the positions off, off+step, … (k of them, relative to
// rs.start) for sync bytes, reading ahead as needed. It returns how many hold
// a sync byte in a row from the first, and how many were available before the
// end of input.
func (rs *Resync) syncRun(off, step, k int) (run, avail int) {
	rs.fill(off + (k-1)*step + 1)
	broken := false
	for j := range k {
		pos := rs.start + off + j*step
		if pos >= rs.end {
			break
		}
		avail++
		if !broken && rs.buf[pos] == syncByte {
			run++
		} else {
			broken = true
		}
	}
	return run, avail
}

func (rs *Resync) skip(n int) {
	rs.start += n
	rs.stats.BytesSkipped += uint64(n)
}

// fill reads until at least n bytes are buffered. It returns false when the
// input ended (or failed) first. It never waits for more than n bytes, so a
// live source is not delayed.
func (rs *Resync) fill(n int) bool {
	return rs.fillUpTo(n) >= n
}

// fillUpTo is fill that returns the number of bytes buffered.
func (rs *Resync) fillUpTo(n int) int {
	empty := 0
	for rs.end-rs.start < n && rs.err == nil {
		if len(rs.buf) < n {
			// Cannot happen with the sizes used here; grow to be safe.
			nb := make([]byte, n+readChunk)
			rs.end = copy(nb, rs.buf[rs.start:rs.end])
			rs.start = 0
			rs.buf = nb
		}
		if len(rs.buf)-rs.end < max(readChunk/4, n-(rs.end-rs.start)) {
			rs.end = copy(rs.buf, rs.buf[rs.start:rs.end])
			rs.start = 0
		}
		m, err := rs.r.Read(rs.buf[rs.end:])
		if m < 0 || m > len(rs.buf)-rs.end {
			m, err = 0, fmt.Errorf("mpegts: reader returned invalid count %d", m)
		}
		rs.end += m
		rs.stats.BytesRead += uint64(m)
		if err != nil {
			rs.err = err
		} else if m == 0 {
			if empty++; empty >= maxEmptyReads {
				rs.err = io.ErrNoProgress
			}
		} else {
			empty = 0
		}
	}
	return rs.end - rs.start
}
