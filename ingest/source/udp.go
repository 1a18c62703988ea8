package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// udpSource receives datagrams on a socket goroutine into a bounded queue.
type udpSource struct {
	*meter
	ctx    context.Context
	cancel context.CancelCauseFunc
	conn   *net.UDPConn
	q      *datagramQueue
	wg     sync.WaitGroup
	once   sync.Once

	cur []byte // the rest of the datagram being delivered
	own []byte // the buffer cur lives in, handed back to the queue next
	err error  // sticky
}

func openUDP(ctx context.Context, o Options) (Source, error) {
	host := o.Host.Unmap()
	multicast := host.IsMulticast()
	switch {
	case multicast && o.Port == 0:
		return nil, fmt.Errorf("%w: multicast group %s needs a port", ErrInvalidOption, host)
	case o.SourceAddr.IsValid() && !multicast:
		return nil, fmt.Errorf("%w: source address %s given but %s is not a multicast group", ErrInvalidOption, o.SourceAddr, o.Host)
	case o.SourceAddr.IsValid() && o.SourceAddr.Unmap().Is4() != host.Is4():
		return nil, fmt.Errorf("%w: source %s and group %s are of different IP versions", ErrInvalidOption, o.SourceAddr, host)
	case o.Iface != "" && !multicast:
		return nil, fmt.Errorf("%w: interface %q given but %s is not a multicast group", ErrInvalidOption, o.Iface, o.Host)
	case o.ReadBuffer < 0 || o.QueueDatagrams < 0:
		return nil, fmt.Errorf("%w: negative read buffer or queue size", ErrInvalidOption)
	}
	if o.QueueDatagrams == 0 {
		o.QueueDatagrams = DefaultQueueDatagrams
	}
	var ifi *net.Interface
	if o.Iface != "" {
		var err error
		if ifi, err = net.InterfaceByName(o.Iface); err != nil {
			return nil, fmt.Errorf("%w: group %s on interface %q: %w", ErrMulticastJoin, host, o.Iface, err)
		}
	}
	var conn *net.UDPConn
	if multicast {
		ifIndex := 0
		if ifi != nil && host.IsLinkLocalMulticast() {
			ifIndex = ifi.Index
		}
		var err error
		if conn, err = listenMulticast(host, o.Port, ifIndex); err != nil {
			return nil, fmt.Errorf("source: udp %s: %w", netip.AddrPortFrom(host, o.Port), err)
		}
	} else {
		network, addr := "udp", fmt.Sprintf(":%d", o.Port)
		if host.IsValid() {
			network = "udp6"
			if host.Is4() {
				network = "udp4"
			}
			addr = netip.AddrPortFrom(host, o.Port).String()
		}
		var lc net.ListenConfig
		pc, err := lc.ListenPacket(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		conn = pc.(*net.UDPConn)
	}
	if o.ReadBuffer > 0 {
		if err := conn.SetReadBuffer(o.ReadBuffer); err != nil {
			conn.Close()
			return nil, fmt.Errorf("source: set receive buffer of %s to %d: %w", conn.LocalAddr(), o.ReadBuffer, err)
		}
	}
	if multicast {
		if err := join(conn, host, o.SourceAddr.Unmap(), ifi); err != nil {
			conn.Close()
			return nil, err
		}
	}
	s := &udpSource{
		meter: newMeter(KindUDP, conn.LocalAddr().String(), o),
		conn:  conn,
		q:     newDatagramQueue(o.QueueDatagrams),
	}
	s.meter.setRecvBuffer(recvBufferSize(conn))
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.wg.Add(1)
	go s.receive()
	context.AfterFunc(s.ctx, func() {
		s.meter.setState(StateClosed, nil)
		s.conn.Close()
	})
	return s, nil
}

// join joins group on ifi (nil: the kernel picks by its routes), for any
// source or only src when it is valid. Closing the socket leaves it.
func join(conn *net.UDPConn, group, src netip.Addr, ifi *net.Interface) error {
	g := &net.UDPAddr{IP: group.AsSlice()}
	var err error
	switch {
	case group.Is4() && src.IsValid():
		err = ipv4.NewPacketConn(conn).JoinSourceSpecificGroup(ifi, g, &net.UDPAddr{IP: src.AsSlice()})
	case group.Is4():
		err = ipv4.NewPacketConn(conn).JoinGroup(ifi, g)
	case src.IsValid():
		err = ipv6.NewPacketConn(conn).JoinSourceSpecificGroup(ifi, g, &net.UDPAddr{IP: src.AsSlice()})
	default:
		err = ipv6.NewPacketConn(conn).JoinGroup(ifi, g)
	}
	if err != nil {
		where := "the default interface"
		if ifi != nil {
			where = fmt.Sprintf("interface %q", ifi.Name)
		}
		if src.IsValid() {
			return fmt.Errorf("%w: group %s from source %s on %s: %w", ErrMulticastJoin, group, src, where, err)
		}
		return fmt.Errorf("%w: group %s on %s: %w", ErrMulticastJoin, group, where, err)
	}
	return nil
}

// receive moves datagrams from the socket to the queue until the socket is
// closed or fails. It never waits for Read.
func (s *udpSource) receive() {
	defer s.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				s.q.fail(ErrClosed)
				return
			}
			err = fmt.Errorf("source: udp %s: %w", s.conn.LocalAddr(), err)
			s.meter.setState(StateFailed, err)
			s.q.fail(err)
			return
		}
		payload, rtp := stripRTP(buf[:n])
		s.meter.datagram(len(payload), rtp)
		if len(payload) == 0 {
			continue
		}
		if dropped, ok := s.q.push(payload); ok {
			s.meter.drop(dropped)
		}
	}
}

// Read returns the next datagram's TS bytes (the rest of it, when p was too
// small for it the last time). It never merges two datagrams.
func (s *udpSource) Read(p []byte) (int, error) {
	if ok, err := readGate(s.ctx, s.err, p); !ok {
		return 0, err
	}
	for len(s.cur) == 0 {
		d, err := s.q.take(s.own)
		s.own = nil
		switch {
		case d != nil:
			s.cur, s.own = d, d
		case err != nil && s.ctx.Err() == nil && !errors.Is(err, ErrClosed):
			s.err = err
			return 0, err
		default:
			select {
			case <-s.q.ready:
			case <-s.ctx.Done():
				return 0, closedErr(s.ctx)
			}
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// Close closes the socket and waits for the socket goroutine.
func (s *udpSource) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel(ErrClosed)
		s.meter.setState(StateClosed, nil)
		err = s.conn.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil // the context's end closed it first
		}
		s.wg.Wait()
	})
	return err
}

// Stats returns the state and counters.
func (s *udpSource) Stats() Stats { return s.meter.stats() }

// datagramQueue is a bounded FIFO of datagrams that drops the oldest when
// full. Slot buffers are reused: take swaps the caller's spent buffer in.
type datagramQueue struct {
	mu      sync.Mutex
	slots   [][]byte
	head, n int
	err     error
	// ready holds a token while datagrams (or an error) may be waiting.
	ready chan struct{}
}

func newDatagramQueue(capacity int) *datagramQueue {
	return &datagramQueue{slots: make([][]byte, capacity), ready: make(chan struct{}, 1)}
}

// push copies d in. When the queue was full it drops the oldest datagram
// and returns its length and true.
func (q *datagramQueue) push(d []byte) (dropped int, didDrop bool) {
	q.mu.Lock()
	if q.n == len(q.slots) {
		dropped, didDrop = len(q.slots[q.head]), true
		q.head = (q.head + 1) % len(q.slots)
		q.n--
	}
	i := (q.head + q.n) % len(q.slots)
	slot := q.slots[i]
	if cap(slot) < len(d) || cap(slot) > 4*len(d) && cap(slot) > 4096 {
		slot = make([]byte, 0, max(len(d), 2048)) // grow, or shrink after a burst of big ones
	}
	q.slots[i] = append(slot[:0], d...)
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return dropped, didDrop
}

// take returns the oldest datagram and keeps spare (a buffer the caller is
// done with) for reuse. It returns nil and the queue's error (nil while it
// is open) when the queue is empty.
func (q *datagramQueue) take(spare []byte) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return nil, q.err
	}
	d := q.slots[q.head]
	q.slots[q.head] = spare[:0]
	q.head = (q.head + 1) % len(q.slots)
	q.n--
	return d, nil
}

// fail ends the queue with err once it is drained.
func (q *datagramQueue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}
