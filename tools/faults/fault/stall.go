package fault

import (
	"context"
	"io"
	"time"
)

// Stall is a live input that stops and resumes: the bytes are those of the
// clean stream, unchanged, but their delivery pauses once, for For, before
// the byte at offset At. Only a live input can have it (a file has no wall
// clock), so it is not one of Names: a test plays a stream through
// Stall.Reader into a UDP socket or a pipe.
type Stall struct {
	// At is the byte offset of the pause, on a packet boundary.
	At int64
	// For is how long delivery stops.
	For time.Duration
}

// StallAt is a stall of d before the first packet at or after fraction at
// of the stream.
func (s *Stream) StallAt(at float64, d time.Duration) Stall {
	n, _ := Window{at, at}.bounds(s.Packets())
	return Stall{At: int64(n) * PacketSize, For: d}
}

// Reader returns r with the stall put in: reads stop short of At, the next
// read waits For (or until ctx ends, which it then returns), and reads go
// on from there. Pace r yourself (a real-time source) for a live feed.
func (st Stall) Reader(ctx context.Context, r io.Reader) io.Reader {
	return &stallReader{r: r, st: st, sleep: func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

type stallReader struct {
	r      io.Reader
	st     Stall
	sleep  func(time.Duration) error
	off    int64
	paused bool
}

func (s *stallReader) Read(p []byte) (int, error) {
	if !s.paused && s.off >= s.st.At {
		s.paused = true
		if err := s.sleep(s.st.For); err != nil {
			return 0, err
		}
	}
	if !s.paused && int64(len(p)) > s.st.At-s.off {
		p = p[:s.st.At-s.off]
	}
	n, err := s.r.Read(p)
	s.off += int64(n)
	return n, err
}
