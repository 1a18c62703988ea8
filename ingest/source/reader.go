package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// readerChunk is the size of one read from a stdin source's reader.
	readerChunk = 32 << 10
	// readerQueue is how many chunks may wait for Read. The pump blocks when
	// they do, which pushes back on the writer of the pipe.
	readerQueue = 4
)

// readerSource reads an io.Reader (stdin) through a pump goroutine, so that
// Close and the context can unblock Read.
type readerSource struct {
	*meter
	ctx     context.Context
	cancel  context.CancelCauseFunc
	r       io.Reader
	chunks  chan []byte
	free    chan []byte
	done    chan struct{} // closed when the pump has returned
	pumpErr error         // set before chunks is closed
	once    sync.Once
	// closeReader closes r once when it is an io.Closer.
	closeReader func()

	cur []byte // the chunk being delivered
	own []byte // cur's buffer, returned to free when delivered
	err error  // sticky
}

func openReader(ctx context.Context, o Options) (Source, error) {
	if o.Reader == nil {
		return nil, fmt.Errorf("%w: stdin source without a reader", ErrInvalidOption)
	}
	s := &readerSource{
		meter:  newMeter(KindStdin, "stdin", o),
		r:      o.Reader,
		chunks: make(chan []byte, readerQueue),
		free:   make(chan []byte, readerQueue+1),
		done:   make(chan struct{}),
	}
	for range readerQueue + 1 {
		s.free <- make([]byte, readerChunk)
	}
	s.closeReader = sync.OnceFunc(func() {
		if c, ok := s.r.(io.Closer); ok {
			c.Close()
		}
	})
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	go s.pump()
	context.AfterFunc(s.ctx, func() {
		s.meter.setState(StateClosed, nil)
		s.closeReader()
	})
	return s, nil
}

// pump reads the reader into free buffers and queues them for Read.
func (s *readerSource) pump() {
	defer close(s.done)
	defer close(s.chunks)
	for {
		var buf []byte
		select {
		case buf = <-s.free:
		case <-s.ctx.Done():
			return
		}
		n, err := s.r.Read(buf)
		if n > 0 {
			select {
			case s.chunks <- buf[:n]:
			case <-s.ctx.Done():
				return
			}
		} else {
			s.free <- buf
		}
		if err != nil {
			s.pumpErr = err
			return
		}
	}
}

// Read returns the reader's bytes in order.
func (s *readerSource) Read(p []byte) (int, error) {
	if ok, err := readGate(s.ctx, s.err, p); !ok {
		return 0, err
	}
	if len(s.cur) == 0 {
		if s.own != nil {
			s.free <- s.own
			s.own = nil
		}
		select {
		case c, ok := <-s.chunks:
			if !ok {
				return 0, s.end()
			}
			s.cur, s.own = c, c[:cap(c)]
		case <-s.ctx.Done():
			return 0, closedErr(s.ctx)
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	s.meter.data(n)
	return n, nil
}

// end reports why the pump stopped: the reader's EOF or error, or Close.
func (s *readerSource) end() error {
	err := s.pumpErr
	switch {
	case s.ctx.Err() != nil:
		err = closedErr(s.ctx)
	case err == nil || errors.Is(err, io.EOF):
		err = io.EOF
		s.meter.setState(StateClosed, nil)
	default:
		err = fmt.Errorf("source: stdin: %w", err)
		s.meter.setState(StateFailed, err)
	}
	s.err = err
	return err
}

// Close stops the pump and closes the reader when it is an io.Closer. It
// waits for the pump only in that case: a plain reader may stay blocked
// until its Read returns.
func (s *readerSource) Close() error {
	s.once.Do(func() {
		s.cancel(ErrClosed)
		s.meter.setState(StateClosed, nil)
		s.closeReader()
		if _, ok := s.r.(io.Closer); ok {
			<-s.done
		}
	})
	return nil
}

// Stats returns the state and counters.
func (s *readerSource) Stats() Stats { return s.meter.stats() }
