package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/filesink"
	"github.com/subtitled/subtitled/captions/format"
	"github.com/subtitled/subtitled/captions/hub"
	"github.com/subtitled/subtitled/config"
	"github.com/subtitled/subtitled/ingest/mpegts"
	"github.com/subtitled/subtitled/ingest/source"
	"github.com/subtitled/subtitled/pipeline"
)

// Channel states reported in /v1/channels and logs.
const (
	stateStarting = "starting"
	stateLive     = "live"
	stateStalled  = "stalled"
	stateFailed   = "failed"
	stateEnded    = "ended"
	stateStopped  = "stopped"
	stateWaiting  = "waiting" // a WHIP channel without a publisher
)

// pesItem is an audio PES with its arrival time, queued for recognition.
// WebRTC input queues one Opus packet per item, with raw set.
type pesItem struct {
	pes      mpegts.PES
	arrived  time.Time
	raw      bool // an Opus packet as sent over RTP, not TS Opus framing
	channels int  // negotiated Opus channels (raw only)
}

// channel runs one configured channel under its own supervisor: the input,
// the recognition chain and the sinks. A failure restarts this channel only,
// with backoff.
type channel struct {
	id    string
	cfg   config.Channel
	model *engine // shared with the other channels of the model
	d     *daemon
	log   *slog.Logger

	hubCh  *hub.Channel // nil without a WebSocket output
	wsTrk  map[string]bool
	sinks  []*fileSink
	origin int64 // first audio PTS of the channel: time 0 in its caption files
	hasOrg bool
	tsOuts []*tsOutput
	nextID map[string]uint64 // per track, carried across restarts and reloads

	cancel context.CancelFunc
	done   chan struct{}

	progress atomic.Int64 // unix nanoseconds of the last audio recognised

	mu     sync.Mutex
	status channelStatus
	src    source.Source
	chain  *chain
	demux  *mpegts.Demuxer
	queue  *pipeline.Queue[pesItem]
	// totals of finished runs, added to the live components' counters
	prevDemux mpegts.Stats
	// WHIP input bitrate: bytes and time at the previous status snapshot
	whipBytes uint64
	whipAt    time.Time
	whipRate  float64
}

type fileSink struct {
	track string
	path  string
	opts  filesink.Options
	sink  *filesink.Sink // opened at the first cue
}

// checkWritable makes sure a caption file can be created at path.
func checkWritable(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("caption file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("caption file: %w", err)
	}
	return f.Close()
}

// channelStatus is the JSON shape of one channel in /v1/channels.
type channelStatus struct {
	ID        string                 `json:"id"`
	Name      string                 `json:"name,omitempty"`
	Language  string                 `json:"language"`
	Model     string                 `json:"model"`
	State     string                 `json:"state"`
	Since     time.Time              `json:"since"`
	LastError string                 `json:"last_error,omitempty"`
	Restarts  int                    `json:"restarts"`
	Input     inputStatus            `json:"input"`
	TR101290  map[string]uint64      `json:"tr101290"`
	Demux     map[string]uint64      `json:"demux"`
	LastCue   map[string]*cueSummary `json:"last_cue"`
	Latency   float64                `json:"final_latency_seconds"`
	Dropped   float64                `json:"dropped_audio_seconds"`
}

type inputStatus struct {
	URL        string  `json:"url"`
	State      string  `json:"state"`
	BitrateBps float64 `json:"bitrate_bps"`
	Bytes      uint64  `json:"bytes"`
	// WHIP inputs: the active publisher session.
	Session     string `json:"session,omitempty"`
	Remote      string `json:"remote,omitempty"`
	LostPackets uint64 `json:"lost_packets,omitempty"`
}

type cueSummary struct {
	ID      uint64    `json:"id"`
	Text    string    `json:"text"`
	Start   float64   `json:"start"`
	End     float64   `json:"end"`
	Emitted time.Time `json:"emitted"`
}

func newChannel(d *daemon, cfg config.Channel, model *engine, nextID map[string]uint64) (*channel, error) {
	c := &channel{
		id: cfg.ID, cfg: cfg, model: model, d: d,
		log:    d.log.With("channel", cfg.ID),
		wsTrk:  map[string]bool{},
		nextID: nextID,
	}
	if c.nextID == nil {
		c.nextID = map[string]uint64{}
	}
	c.status = channelStatus{
		ID: cfg.ID, Name: cfg.Name, Language: cfg.Language, Model: cfg.Model,
		State: stateStarting, Since: time.Now(),
		Input:   inputStatus{URL: cfg.Input.URL},
		LastCue: map[string]*cueSummary{},
	}
	var wsOpts *hub.ChannelOptions
	for _, o := range cfg.Outputs {
		switch {
		case o.WebSocket != nil:
			if wsOpts == nil {
				wsOpts = &hub.ChannelOptions{RingSize: o.WebSocket.RingSize, Queue: o.WebSocket.Queue, MaxClients: o.WebSocket.MaxClients}
			}
			for _, tr := range o.WebSocket.Tracks {
				if !c.wsTrk[tr] {
					c.wsTrk[tr] = true
					wsOpts.Tracks = append(wsOpts.Tracks, tr)
				}
			}
		case o.File != nil:
			f, err := format.ParseFormat(o.File.Format)
			if err != nil {
				c.closeSinks()
				return nil, fmt.Errorf("channel %s: file %s: %w", cfg.ID, o.File.Path, err)
			}
			wo := format.Options{TimeBase: format.FixedOrigin, TimestampMap: o.File.TimestampMap}
			if o.File.AbsoluteTimes || o.File.TimestampMap {
				wo.TimeBase = format.Absolute
			}
			// Check now that the file can be written; it is opened at the
			// first cue, when the channel's first audio PTS (file time 0)
			// is known.
			if err := checkWritable(o.File.Path); err != nil {
				c.closeSinks()
				return nil, fmt.Errorf("channel %s: %w", cfg.ID, err)
			}
			c.sinks = append(c.sinks, &fileSink{track: o.File.Track, path: o.File.Path, opts: filesink.Options{
				Path: o.File.Path, Format: f, Writer: wo,
				RotateSize: int64(o.File.RotateSize), RotateInterval: o.File.RotateInterval,
			}})
		case o.TS != nil:
			t, err := openTSOutput(d, cfg, *o.TS)
			if err != nil {
				c.closeSinks()
				return nil, fmt.Errorf("channel %s: %w", cfg.ID, err)
			}
			c.tsOuts = append(c.tsOuts, t)
		}
	}
	if wsOpts != nil {
		h, err := d.hub.ChannelWith(cfg.ID, *wsOpts)
		if err != nil {
			c.closeSinks()
			return nil, fmt.Errorf("channel %s: websocket: %w", cfg.ID, err)
		}
		c.hubCh = h
	}
	return c, nil
}

// start runs the supervisor in its own goroutine.
func (c *channel) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	c.cancel = cancel
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		c.supervise(ctx)
	}()
}

// stop ends the channel: the input stops, the recogniser is flushed, the
// last cues reach every sink, and the sinks are closed.
func (c *channel) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	c.closeSinks()
	c.setState(stateStopped, nil)
}

func (c *channel) closeSinks() {
	for _, s := range c.sinks {
		if s.sink == nil {
			continue
		}
		if err := s.sink.Close(); err != nil {
			c.log.Error("closing caption file", "path", s.path, "err", err)
		}
	}
	c.sinks = nil
	for _, t := range c.tsOuts {
		if err := t.close(); err != nil {
			c.log.Error("closing ts output", "output", t.label, "err", err)
		}
	}
	c.tsOuts = nil
}

// supervise restarts the pipeline with backoff until ctx ends or a finite
// input ends.
func (c *channel) supervise(ctx context.Context) {
	backoff := c.cfg.Restart.Min
	for {
		began := time.Now()
		err := c.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			c.log.Info("input ended")
			c.setState(stateEnded, nil)
			if c.hubCh != nil {
				c.hubCh.EOS()
			}
			return
		}
		c.setState(stateFailed, err)
		c.d.metrics.restarts.WithLabelValues(c.id).Inc()
		c.mu.Lock()
		c.status.Restarts++
		c.mu.Unlock()
		if time.Since(began) > 30*time.Second {
			backoff = c.cfg.Restart.Min
		}
		c.log.Warn("channel failed; restarting", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.cfg.Restart.Max)
	}
}

// runOnce runs the pipeline until the input ends (nil), fails (error) or
// ctx ends. The final cues are always flushed to the sinks.
func (c *channel) runOnce(ctx context.Context) error {
	if s, err := c.cfg.Input.Source(); err == nil && s.Kind == config.SourceWHIP {
		return c.runWHIP(ctx)
	}
	c.setState(stateStarting, nil)
	src, err := openSource(ctx, c.cfg, c.d)
	if err != nil {
		return fmt.Errorf("input %s: %w", c.cfg.Input.URL, err)
	}
	defer src.Close()
	ch, err := c.newChain()
	if err != nil {
		return err
	}
	defer ch.close()
	for _, t := range c.tsOuts {
		if err := t.start(c.cfg, func(err error) { c.log.Warn("ts output", "output", t.label, "err", err) }); err != nil {
			return err
		}
	}
	defer func() {
		for _, t := range c.tsOuts {
			if err := t.stop(); err != nil {
				c.log.Warn("ts output", "output", t.label, "err", err)
			}
		}
	}()
	var onPacket func([]byte)
	if len(c.tsOuts) > 0 {
		onPacket = func(pkt []byte) {
			for _, t := range c.tsOuts {
				if err := t.mux.WritePacket(pkt); err != nil {
					t.errs.Add(1)
				}
			}
		}
	}
	demux, err := mpegts.New(src, mpegts.Options{
		OnPacket:   onPacket,
		Program:    uint16(c.cfg.Input.Program),
		Language:   c.cfg.Input.AudioLanguage,
		MaxPESSize: int(c.d.cfg.Limits.PESMaxBytes),
	})
	if err != nil {
		return err
	}
	// Live inputs shed the oldest audio when recognition falls behind;
	// a file read faster than real time is simply slowed down.
	policy := pipeline.DropOldest
	if s, err := c.cfg.Input.Source(); err == nil && s.Kind == config.SourceFile && !c.cfg.Input.Realtime {
		policy = pipeline.Block
	}
	q := pipeline.NewQueue[pesItem](max(c.d.cfg.Limits.QueueSize, 16), policy)
	c.mu.Lock()
	c.src, c.demux, c.queue, c.chain = src, demux, q, ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		st := demux.Stats()
		c.prevDemux = addDemuxStats(c.prevDemux, st)
		c.src, c.demux, c.queue, c.chain = nil, nil, nil, nil
		c.mu.Unlock()
	}()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer q.Close()
		for {
			p, err := demux.Next(rctx)
			if isInputReport(err) {
				c.inputReport(err)
				continue
			}
			if err != nil {
				readErr = err
				return
			}
			if err := q.Push(rctx, pesItem{pes: p, arrived: time.Now()}); err != nil {
				return
			}
		}
	}()

	err = c.recognise(rctx, ch, q, policy == pipeline.DropOldest)
	cancel()
	<-readDone
	// Flush: the last words become final cues in every sink.
	if ferr := ch.finish(); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	if readErr == nil || errors.Is(readErr, io.EOF) {
		return nil
	}
	if errors.Is(readErr, context.Canceled) {
		return nil
	}
	return readErr
}

// newChain builds the recognition chain of one run.
func (c *channel) newChain() (*chain, error) {
	copts, rules, err := captionOptions(c.cfg)
	if err != nil {
		return nil, err
	}
	ch, err := newChain(c.model, chainOptions{
		Language:  c.cfg.Language,
		Tracks:    c.cfg.Captions.Tracks,
		Captions:  copts,
		Rules:     rules,
		Partials:  c.hubCh != nil,
		FirstIDs:  c.nextID,
		OnCue:     c.emitCue,
		OnPartial: c.emitPartial,
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// recognise pops PES and runs them through the chain. Audio that waited
// longer than max_lag is dropped, counted and announced as a gap.
func (c *channel) recognise(ctx context.Context, ch *chain, q *pipeline.Queue[pesItem], live bool) error {
	maxLag := c.cfg.Input.MaxLag
	var dropFrom int64
	dropping, started := false, false
	lastDropped := q.Dropped()
	idleAfter := c.cfg.Input.StallTimeout
	if idleAfter <= 0 {
		idleAfter = 2 * time.Second
	}
	flushed := true
	for {
		pctx, cancel := context.WithTimeout(ctx, idleAfter)
		it, err := q.Pop(pctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// The input paused: release the last words now.
			started = false
			if !flushed {
				flushed = true
				if err := ch.idle(); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			if errors.Is(err, pipeline.ErrClosed) || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		flushed = false
		if !c.hasOrg && it.pes.HasPTS {
			c.origin, c.hasOrg = it.pes.PTS, true
		}
		c.d.metrics.queueDepth.WithLabelValues(c.id).Set(float64(q.Len()))
		overflow := q.Dropped() != lastDropped
		lastDropped = q.Dropped()
		late := live && maxLag > 0 && time.Since(it.arrived) > maxLag
		if late || overflow {
			if !dropping && it.pes.HasPTS {
				dropFrom, dropping = it.pes.PTS, true
			}
			if late {
				continue
			}
		}
		if dropping && it.pes.HasPTS {
			dropping = false
			secs := float64(it.pes.PTS-dropFrom) / 90000
			if secs > 0 {
				c.d.metrics.droppedSeconds.WithLabelValues(c.id).Add(secs)
				c.mu.Lock()
				c.status.Dropped += secs
				c.mu.Unlock()
			}
			c.d.metrics.gaps.WithLabelValues(c.id, "overload").Inc()
			if c.hubCh != nil {
				c.hubCh.PublishGap(dropFrom, it.pes.PTS, "overload")
			}
			it.pes.Discontinuity = true
		}
		if !started {
			started = true
			c.setState(stateLive, nil)
		}
		before := ch.samples
		if err := ch.packet(it.pes, it.raw, it.channels); err != nil {
			return err
		}
		if n := ch.samples - before; n > 0 {
			c.d.metrics.audioSeconds.WithLabelValues(c.id).Add(float64(n) / 16000)
			c.progress.Store(time.Now().UnixNano())
		}
	}
}

// emitCue hands a final cue to the files first (synced), then to WebSocket
// clients, so nothing a client saw can be missing from a file after a crash.
func (c *channel) emitCue(cue captions.Cue) {
	c.nextID[cue.Track] = cue.ID + 1
	// The next ID is durable before anyone sees this cue, so a restarted
	// process never hands out this ID again.
	if err := c.d.state.save(c.id, c.nextID); err != nil {
		c.d.metrics.sinkErrors.WithLabelValues(c.id, "state").Inc()
		c.log.Error("saving cue IDs", "err", err)
	}
	for _, s := range c.sinks {
		if s.track != cue.Track {
			continue
		}
		if s.sink == nil {
			s.opts.Writer.Origin = c.origin
			sink, err := filesink.Open(s.opts)
			if err != nil {
				c.d.metrics.sinkErrors.WithLabelValues(c.id, "file").Inc()
				c.log.Error("opening caption file", "path", s.path, "err", err)
				continue
			}
			s.sink = sink
		}
		if err := s.sink.Write(cue); err != nil {
			c.d.metrics.sinkErrors.WithLabelValues(c.id, "file").Inc()
			c.log.Error("writing caption file", "path", s.path, "err", err)
		}
	}
	if c.hubCh != nil && c.wsTrk[cue.Track] {
		c.hubCh.PublishCue(cue)
	}
	for _, t := range c.tsOuts {
		if t.cfg.Track == cue.Track && t.mux != nil {
			if err := t.mux.AddCue(cue); err != nil {
				c.d.metrics.sinkErrors.WithLabelValues(c.id, "ts").Inc()
			}
		}
	}
	c.d.metrics.cues.WithLabelValues(c.id, cue.Track).Inc()
	c.mu.Lock()
	// Latency: from the arrival of the audio at the end of the cue's last
	// word to now. The chain runs on this goroutine.
	if c.chain != nil {
		if at, ok := c.chain.arrivals.at(cue.SpeechEnd); ok {
			lat := cue.Emitted.Sub(at).Seconds()
			c.d.metrics.finalLatency.WithLabelValues(c.id).Observe(lat)
			c.status.Latency = lat
		}
	}
	c.status.LastCue[cue.Track] = &cueSummary{
		ID: cue.ID, Text: cue.Text(), Start: float64(cue.Start) / 90000, End: float64(cue.End) / 90000, Emitted: cue.Emitted,
	}
	c.mu.Unlock()
	c.log.Debug("cue", "track", cue.Track, "id", cue.ID, "text", cue.Text())
}

func (c *channel) emitPartial(p captions.Partial) {
	if c.hubCh != nil && c.wsTrk[p.Track] {
		c.hubCh.PublishPartial(p)
	}
	if len(p.Lines) > 0 && c.chain != nil {
		if at, ok := c.chain.arrivals.at(p.End); ok {
			c.d.metrics.partialLatency.WithLabelValues(c.id).Observe(time.Since(at).Seconds())
		}
	}
}

// isInputReport tells the demuxer's reports, after which it goes on (a
// later PAT or PMT may bring audio), from errors that end the input.
func isInputReport(err error) bool {
	return errors.Is(err, mpegts.ErrNoAudio) || errors.Is(err, mpegts.ErrUnsupportedCodec) ||
		errors.Is(err, mpegts.ErrProgramNotFound)
}

// inputReport logs and counts a demuxer report; the channel keeps running.
func (c *channel) inputReport(err error) {
	reason := "no_audio"
	switch {
	case errors.Is(err, mpegts.ErrUnsupportedCodec):
		reason = "unsupported_codec"
	case errors.Is(err, mpegts.ErrProgramNotFound):
		reason = "program_not_found"
	}
	c.log.Warn("input", "err", err)
	c.d.metrics.inputReports.WithLabelValues(c.id, reason).Inc()
	c.mu.Lock()
	c.status.LastError = err.Error()
	c.mu.Unlock()
}

func (c *channel) setState(state string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status.State != state {
		c.status.State = state
		c.status.Since = time.Now()
	}
	if err != nil {
		c.status.LastError = err.Error()
	}
	up := 0.0
	if state == stateLive {
		up = 1
	}
	c.d.metrics.channelUp.WithLabelValues(c.id).Set(up)
}

// snapshot returns the channel's status with live input counters.
func (c *channel) snapshot() channelStatus {
	// The WHIP server's counters are read before taking c.mu: the server
	// calls into the channel (whipPacket) with its own locks.
	whip, hasWHIP := c.whipStats()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status
	st.LastCue = make(map[string]*cueSummary, len(c.status.LastCue))
	for k, v := range c.status.LastCue {
		cp := *v
		st.LastCue[k] = &cp
	}
	ds := c.prevDemux
	if c.demux != nil {
		ds = addDemuxStats(ds, c.demux.Stats())
	}
	st.TR101290 = tr101290(ds)
	st.Demux = demuxCounters(ds)
	if isWHIP(c.cfg) {
		c.whipInput(&st, whip, hasWHIP)
	} else if c.src != nil {
		ss := c.src.Stats()
		st.Input.State = string(ss.State)
		st.Input.BitrateBps = ss.BitrateBps
		st.Input.Bytes = ss.BytesIn
		if st.State == stateLive && ss.State == source.StateStalled {
			st.State = stateStalled
		}
	} else {
		st.Input.State = "closed"
	}
	return st
}
