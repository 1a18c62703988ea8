package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	pwebrtc "github.com/pion/webrtc/v4"
)

var (
	errRemoteOffer  = errors.New("offer rejected")
	errSessionEnded = errors.New("session ended during setup")
)

const (
	// flushAfter is how long packets may wait behind a gap when no further
	// packet arrives (the sender went silent right after a loss).
	flushAfter = 200 * time.Millisecond
	// recheckAfter is the grace given to a packet that may already be
	// buffered when the flush deadline fires.
	recheckAfter = 5 * time.Millisecond
	// readBufferSize holds one RTP packet.
	readBufferSize = 1500
)

// session is one publisher's peer connection. Its supervisor goroutine owns
// the teardown; the HTTP handler builds it; pion's OnTrack goroutines read
// the media.
type session struct {
	srv    *Server
	ch     *channel
	id     string
	etag   string
	remote string
	since  time.Time

	ctx       context.Context
	cancel    context.CancelFunc
	endOnce   sync.Once
	reason    string // set once in end
	connected chan struct{}
	connOnce  sync.Once
	built     chan struct{} // closed by the handler when pc/announced are final
	done      chan struct{} // closed when everything has ended
	ready     atomic.Bool   // accepted (201 about to be sent)

	pc        *pwebrtc.PeerConnection // final once built is closed
	announced bool                    // OnSession(Started) was called; final once built is closed

	mu      sync.Mutex // guards the fields below
	closing bool
	curRecv *pwebrtc.RTPReceiver
	media   *mediaProc
	readers sync.WaitGroup
}

func newSession(srv *Server, ch *channel, info *offerInfo, remote string) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		srv:       srv,
		ch:        ch,
		id:        randomHex(16),
		etag:      `"` + randomHex(8) + `"`,
		remote:    remote,
		since:     time.Now(),
		ctx:       ctx,
		cancel:    cancel,
		connected: make(chan struct{}),
		built:     make(chan struct{}),
		done:      make(chan struct{}),
	}
	chans := info.channelsByPT
	s.media = newMediaProc(ch.name, s.id, &ch.tl, &ch.counters, &chans, 48000, func(p Packet) {
		if pub := ch.pub.Load(); pub.OnPacket != nil {
			pub.OnPacket(p)
		}
	})
	return s
}

// end asks the session to end for reason; it reports whether this call was
// the first (the one whose reason counts).
func (s *session) end(reason string) bool {
	first := false
	s.endOnce.Do(func() {
		first = true
		s.reason = reason
		s.cancel()
	})
	return first
}

func (s *session) isConnected() bool {
	select {
	case <-s.connected:
		return true
	default:
		return false
	}
}

// fail ends a session whose setup failed; the handler calls it instead of
// announcing the session.
func (s *session) fail(err error) {
	s.end(ReasonSetupFailed)
	s.srv.log.Debug("WHIP session setup failed", "channel", s.ch.name, "session", s.id, "err", err)
	close(s.built)
}

// build creates the peer connection and returns the SDP answer. On success
// the session is announced (OnSession Started) and ready; on error the
// caller must call fail.
func (s *session) build(ctx context.Context, offer string) (string, error) {
	pc, err := s.srv.api.NewPeerConnection(pwebrtc.Configuration{ICEServers: iceServers(&s.srv.cfg)})
	if err != nil {
		return "", fmt.Errorf("new peer connection: %w", err)
	}
	s.pc = pc
	pc.OnConnectionStateChange(s.onState)
	pc.OnTrack(s.onTrack)
	if err := pc.SetRemoteDescription(pwebrtc.SessionDescription{Type: pwebrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %s", errRemoteOffer, oneLine(err.Error()))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %s", errRemoteOffer, oneLine(err.Error()))
	}
	gathered := pwebrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	timer := time.NewTimer(gatherWait)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C: // answer with what has been gathered so far
	case <-ctx.Done():
		return "", fmt.Errorf("%w: request cancelled", errSessionEnded)
	case <-s.ctx.Done():
		return "", errSessionEnded
	}
	local := pc.LocalDescription()
	if local == nil {
		return "", errors.New("no local description")
	}

	// Announce before the 201 so that OnSession(Started) precedes any packet.
	s.ch.counters.sessions.Add(1)
	if pub := s.ch.pub.Load(); pub.OnSession != nil {
		pub.OnSession(SessionEvent{Channel: s.ch.name, Session: s.id, Started: true, Remote: s.remote})
	}
	s.announced = true
	s.ready.Store(true)
	close(s.built)
	s.srv.log.Info("WHIP publisher accepted", "channel", s.ch.name, "session", s.id, "remote", s.remote)
	return local.SDP, nil
}

// supervise waits for the session to end (or for SetupTimeout to pass
// without a connection), then tears everything down in order.
func (s *session) supervise() {
	defer s.srv.wg.Done()
	timer := time.NewTimer(s.srv.cfg.SetupTimeout)
	select {
	case <-s.connected:
	case <-timer.C:
		if !s.isConnected() && s.end(ReasonSetupTimeout) {
			s.srv.countReaped()
		}
	case <-s.ctx.Done():
	}
	timer.Stop()
	<-s.ctx.Done()
	<-s.built

	s.mu.Lock()
	s.closing = true // no new readers from now on
	s.mu.Unlock()
	if s.pc != nil {
		if err := s.pc.GracefulClose(); err != nil {
			s.srv.log.Debug("WHIP peer connection close", "session", s.id, "err", err)
		}
	}
	s.readers.Wait()

	s.mu.Lock()
	s.media.flush()
	s.mu.Unlock()
	if s.announced {
		if pub := s.ch.pub.Load(); pub.OnSession != nil {
			pub.OnSession(SessionEvent{Channel: s.ch.name, Session: s.id, Reason: s.reason, Remote: s.remote})
		}
		s.srv.log.Info("WHIP publisher ended", "channel", s.ch.name, "session", s.id, "reason", s.reason)
	}
	s.srv.release(s)
	close(s.done)
}

func (s *session) onState(st pwebrtc.PeerConnectionState) {
	switch st {
	case pwebrtc.PeerConnectionStateConnected:
		s.connOnce.Do(func() { close(s.connected) })
	case pwebrtc.PeerConnectionStateFailed:
		s.end(ReasonFailed)
	case pwebrtc.PeerConnectionStateClosed:
		s.end(ReasonClosed)
	}
}

// onTrack runs in its own goroutine (pion starts one per track) and reads
// the track until the peer connection closes; one more goroutine drains the
// receiver's RTCP. A newer audio track (an SSRC change that pion surfaces as
// a new track) takes over from the older one.
func (s *session) onTrack(t *pwebrtc.TrackRemote, r *pwebrtc.RTPReceiver) {
	audio := t.Kind() == pwebrtc.RTPCodecTypeAudio
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.readers.Add(1)
	var old *pwebrtc.RTPReceiver
	newRecv := false
	if audio && s.curRecv != r {
		old, s.curRecv, newRecv = s.curRecv, r, true
		s.readers.Add(1)
	}
	s.mu.Unlock()
	defer s.readers.Done()

	if !audio {
		discard(s.ctx, t)
		return
	}
	if old != nil {
		_ = old.Stop()
	}
	if newRecv {
		// The sender reports feed the RTCP receiver reports; unread they
		// would also sit in pion's buffer.
		go func() {
			defer s.readers.Done()
			drainRTCP(s.ctx, r)
		}()
	}
	s.readAudio(t)
}

// drainRTCP reads a receiver's RTCP until it closes.
func drainRTCP(ctx context.Context, r *pwebrtc.RTPReceiver) {
	buf := make([]byte, readBufferSize)
	var errs readErrors
	for {
		_, _, err := r.Read(buf)
		if errs.fatal(ctx, err) {
			return
		}
	}
}

// maxReadErrors is how many read errors in a row end a reader: pion reports
// a bad packet (an unknown payload type, a malformed RTCP) as a read error
// and goes on, but a closed stream may not always say io.EOF.
const maxReadErrors = 1000

type readErrors int

// fatal reports whether a reader should stop after err (nil resets): at
// io.EOF, once the session is ending, or after too many errors in a row.
func (e *readErrors) fatal(ctx context.Context, err error) bool {
	if err == nil {
		*e = 0
		return false
	}
	if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) {
		return true
	}
	*e++
	return *e >= maxReadErrors
}

// discard drains a track nobody wants (video that arrived anyway).
func discard(ctx context.Context, t *pwebrtc.TrackRemote) {
	buf := make([]byte, readBufferSize)
	var errs readErrors
	for {
		_, _, err := t.Read(buf)
		if errs.fatal(ctx, err) {
			return
		}
	}
}

func (s *session) readAudio(t *pwebrtc.TrackRemote) {
	ctx := s.ctx
	buf := make([]byte, readBufferSize)
	var pkt rtp.Packet
	armed, rechecking := false, false
	var errs readErrors
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			if !isTimeout(err) {
				if errs.fatal(ctx, err) {
					return
				}
				continue
			}
			if !rechecking {
				// The deadline may have passed while a packet was already
				// waiting: look once more before giving up the gap.
				rechecking = true
				_ = t.SetReadDeadline(time.Now().Add(recheckAfter))
				continue
			}
			s.mu.Lock()
			s.media.flush()
			s.mu.Unlock()
			_ = t.SetReadDeadline(time.Time{})
			armed, rechecking = false, false
			continue
		}
		rechecking = false
		errs.fatal(ctx, nil)
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		now := time.Now()
		s.mu.Lock()
		s.media.handle(&pkt, now)
		held := s.media.held()
		s.mu.Unlock()
		switch {
		case held > 0 && !armed:
			_ = t.SetReadDeadline(now.Add(flushAfter))
			armed = true
		case held == 0 && armed:
			_ = t.SetReadDeadline(time.Time{})
			armed = false
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
