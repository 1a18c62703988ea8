package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

const (
	// fileBuffer is the read buffer of a realtime file.
	fileBuffer = 64 << 10
	// lookahead is what nextUnit needs past a unit's start to confirm a
	// packet of any stride.
	lookahead = 204 + 1
	// probeBytes is how much of a realtime file is scanned to pick its
	// clock.
	probeBytes = 4 << 20
	// minNominalBitrate is a packet a second.
	minNominalBitrate = 8 * packetSize
)

// fileSource reads a TS file, optionally paced and looped.
type fileSource struct {
	*meter
	ctx    context.Context
	cancel context.CancelCauseFunc
	f      io.ReadSeekCloser
	o      Options
	once   sync.Once

	// Read state (one reader at a time).
	err    error // sticky
	passN  int64 // bytes delivered in this pass over the file
	paced  *pacer
	buf    []byte
	start  int // buf[start:end] is read but not delivered
	end    int
	rel    int // bytes at buf[start:] released for delivery
	eof    bool
	source clockSource
}

func openFile(ctx context.Context, o Options) (Source, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("%w: file source without a path", ErrInvalidOption)
	}
	if o.NominalBitrate < 0 || o.NominalBitrate > 0 && o.NominalBitrate < minNominalBitrate {
		return nil, fmt.Errorf("%w: nominal bitrate %d below %d bit/s (a packet a second)", ErrInvalidOption, o.NominalBitrate, minNominalBitrate)
	}
	if o.NominalBitrate == 0 {
		o.NominalBitrate = DefaultNominalBitrate
	}
	f, err := os.Open(o.Path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	s, err := newFileSource(ctx, f, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// newFileSource paces and loops f, which it closes on Close (the caller
// closes it when an error comes back); o has its defaults set.
func newFileSource(ctx context.Context, f io.ReadSeekCloser, o Options) (*fileSource, error) {
	s := &fileSource{meter: newMeter(KindFile, o.Path, o), f: f, o: o}
	if o.Realtime {
		size, err := f.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			return nil, fmt.Errorf("source: %s: %w", o.Path, err)
		}
		probe := make([]byte, min(size, probeBytes))
		n, err := io.ReadFull(f, probe)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("source: %s: %w", o.Path, err)
		}
		s.source = detectClock(probe[:n], size <= probeBytes)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("source: %s: %w", o.Path, err)
		}
		s.paced = newPacer(s.source, o.NominalBitrate)
		s.buf = make([]byte, min(fileBuffer, size+2*lookahead))
	}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	context.AfterFunc(s.ctx, func() { s.meter.setState(StateClosed, nil) })
	return s, nil
}

// Read delivers the file's bytes, paced when Options.Realtime is set.
func (s *fileSource) Read(p []byte) (int, error) {
	if ok, err := readGate(s.ctx, s.err, p); !ok {
		return 0, err
	}
	var n int
	var err error
	if s.paced != nil {
		n, err = s.readPaced(p)
	} else {
		n, err = s.readFast(p)
	}
	s.meter.data(n)
	s.passN += int64(n)
	if err != nil {
		err = s.finish(err)
	}
	return n, err
}

// finish turns a Read error into the sticky error and the state it means.
func (s *fileSource) finish(err error) error {
	switch {
	case s.ctx.Err() != nil:
		err = closedErr(s.ctx)
	case errors.Is(err, io.EOF):
		s.meter.setState(StateClosed, nil)
	default:
		err = fmt.Errorf("source: %s: %w", s.o.Path, err)
		s.meter.setState(StateFailed, err)
	}
	s.err = err
	return err
}

// rewind starts the next pass over the file. It reports false (the input
// ends) when looping is off or the pass that ended delivered nothing.
func (s *fileSource) rewind() (bool, error) {
	if !s.o.Loop || s.passN == 0 {
		return false, nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	s.passN = 0
	s.meter.loop()
	return true, nil
}

func (s *fileSource) readFast(p []byte) (int, error) {
	for {
		n, err := s.f.Read(p)
		if n > 0 || err == nil {
			return n, nil
		}
		if !errors.Is(err, io.EOF) {
			return 0, err
		}
		again, rerr := s.rewind()
		if rerr != nil {
			return 0, rerr
		}
		if !again {
			return 0, io.EOF
		}
	}
}

func (s *fileSource) readPaced(p []byte) (int, error) {
	for s.rel == 0 {
		if err := s.nextRun(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.start:s.start+s.rel])
	s.start += n
	s.rel -= n
	return n, nil
}

// fill reads more of the file into the buffer, keeping buf[start:end].
func (s *fileSource) fill() error {
	if s.start > 0 {
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	n, err := s.f.Read(s.buf[s.end:])
	s.end += n
	if errors.Is(err, io.EOF) {
		s.eof = true
		return nil
	}
	return err
}

// nextRun releases the next run of units: a timing point, once its deadline
// has come, and the units after it up to the next timing point. At the end
// of the file it loops or returns io.EOF.
func (s *fileSource) nextRun() error {
	run := 0
	for {
		pos := s.start + run
		if run > 0 && run >= len(s.buf)-lookahead {
			break
		}
		if s.end-pos < lookahead && !s.eof {
			if err := s.fill(); err != nil {
				return err
			}
			continue
		}
		if pos == s.end {
			break
		}
		n, pkt := nextUnit(s.buf[pos:s.end], s.eof)
		ts, disc, stamped := s.paced.stamp(n, pkt)
		if !stamped {
			s.paced.advance(n, pkt)
			run += n
			continue
		}
		if run > 0 {
			break // release what comes before the timing point first
		}
		deadline := s.paced.at(n, pkt, ts, disc, s.o.Clock.Now())
		if err := s.o.Clock.SleepUntil(s.ctx, deadline); err != nil {
			return err
		}
		run = n
	}
	if run > 0 {
		s.rel = run
		return nil
	}
	again, err := s.rewind()
	if err != nil || !again {
		if err == nil {
			err = io.EOF
		}
		return err
	}
	s.start, s.end, s.eof = 0, 0, false
	s.paced.restart()
	return nil
}

// Close stops the source and closes the file.
func (s *fileSource) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel(ErrClosed)
		s.meter.setState(StateClosed, nil)
		err = s.f.Close()
	})
	return err
}

// Stats returns the state and counters.
func (s *fileSource) Stats() Stats {
	return s.meter.stats()
}
