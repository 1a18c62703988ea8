package source

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/subtitled/subtitled/tools/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { fixtures.Cleanup() }))
}

// epoch is where fake clocks start.
var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a virtual clock: SleepUntil jumps to the deadline at once
// and records the wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := t.Sub(c.now); d > 0 {
		c.sleeps = append(c.sleeps, d)
		c.now = t
	}
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// waitFor polls cond until it holds; it fails the test after a generous
// limit (a liveness check, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readResult is the outcome of a Read run in a goroutine.
type readResult struct {
	n   int
	err error
}

// readAsync starts a Read and returns where its result will come.
func readAsync(s Source, p []byte) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		n, err := s.Read(p)
		ch <- readResult{n, err}
	}()
	return ch
}

// awaitRead waits for a Read started by readAsync to return.
func awaitRead(t *testing.T, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("Read did not return")
		return readResult{}
	}
}

// TS packet builder for tests.

type pkt struct {
	pid     uint16
	pusi    bool
	pcr     int64 // 27 MHz ticks; < 0: none
	disc    bool
	tei     bool
	payload []byte
}

// tsPacket builds one 188-byte packet; an adaptation field carries the PCR
// and the discontinuity flag and pads the payload out.
func tsPacket(p pkt, cc byte) []byte {
	b := make([]byte, 0, packetSize)
	b1 := byte(p.pid>>8) & 0x1F
	if p.pusi {
		b1 |= 0x40
	}
	if p.tei {
		b1 |= 0x80
	}
	b = append(b, syncByte, b1, byte(p.pid))
	payload := p.payload
	if len(payload) > 184 {
		payload = payload[:184]
	}
	needAF := p.pcr >= 0 || p.disc || len(payload) < 184
	afc := byte(1)
	if needAF {
		afc = 3
		if len(payload) == 0 {
			afc = 2
		}
	}
	b = append(b, afc<<4|cc&0x0F)
	if needAF {
		afLen := 183 - len(payload)
		b = append(b, byte(afLen))
		if afLen > 0 {
			var flags byte
			if p.disc {
				flags |= 0x80
			}
			af := []byte{flags}
			if p.pcr >= 0 {
				af[0] |= 0x10
				base, ext := uint64(p.pcr)/300, uint64(p.pcr)%300
				af = append(af, byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1), byte(base<<7)|0x7E|byte(ext>>8), byte(ext))
			}
			for len(af) < afLen {
				af = append(af, 0xFF)
			}
			b = append(b, af...)
		}
	}
	return append(b, payload...)
}

// pesStart is a PES header with a PTS (and a DTS when dts >= 0), both in 90
// kHz units, followed by a few payload bytes.
func pesStart(streamID byte, pts, dts int64) []byte {
	ts := func(prefix byte, v int64) []byte {
		u := uint64(v)
		return []byte{prefix<<4 | byte(u>>29)&0x0E | 1, byte(u >> 22), byte(u>>14) | 1, byte(u >> 7), byte(u<<1) | 1}
	}
	if dts < 0 {
		h := []byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5}
		return append(append(h, ts(2, pts)...), 0xAA, 0xBB)
	}
	h := []byte{0, 0, 1, streamID, 0, 0, 0x80, 0xC0, 10}
	return append(append(append(h, ts(3, pts)...), ts(1, dts)...), 0xAA, 0xBB)
}

// buildTS joins packets, numbering the continuity counter per PID.
func buildTS(pkts ...pkt) []byte {
	cc := map[uint16]byte{}
	var out []byte
	for _, p := range pkts {
		out = append(out, tsPacket(p, cc[p.pid])...)
		cc[p.pid]++
	}
	return out
}

// filler is a packet without timing on PID 0x100.
func filler() pkt { return pkt{pid: 0x100, pcr: -1, payload: make([]byte, 184)} }

// pcrAt is a packet carrying a PCR on PID 0x101.
func pcrAt(ticks int64) pkt { return pkt{pid: 0x101, pcr: ticks} }

// writeTemp writes data to a file in the test's temporary directory.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var fixtures = testenv.NewFixtures("source-test-")

// fixture makes (once per run) the file name with ffmpeg and returns its path.
func fixture(t testing.TB, name string, args ...string) string {
	t.Helper()
	return fixtures.FFmpeg(t, name, args...)
}

// av3s is a 3 s TS with H.264 video and AAC audio (PCR on the video PID).
func av3s(t testing.TB) string {
	return fixture(t, "av3s.ts", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts")
}
