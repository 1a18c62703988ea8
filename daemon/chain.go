package daemon

import (
	"fmt"
	"slices"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/recognizer"
	"github.com/subtitled/subtitled/ingest"
	"github.com/subtitled/subtitled/ingest/audio"
	"github.com/subtitled/subtitled/ingest/mpegts"
)

// chainOptions configure one audio track's chain from PES to cues.
type chainOptions struct {
	Language string
	Tracks   []string // decoder.TrackVerbatim and/or decoder.TrackSubtitle
	Captions captions.Options
	Rules    captions.RulesConfig
	Partials bool
	// FirstIDs continue cue IDs per track (a restarted channel passes the
	// next IDs of its previous run); missing tracks start at 1.
	FirstIDs map[string]uint64
	// OnCue receives every final cue, in order per track.
	OnCue func(captions.Cue)
	// OnPartial receives the revisable partial of a track when it changes.
	OnPartial func(captions.Partial)
}

// chain runs one audio track synchronously: compressed audio is decoded,
// recognised, turned into cues per track and handed to the callbacks. It
// is the unit both `transcribe` and live channels drive.
type chain struct {
	opts     chainOptions
	dec      *audio.Decoder
	rec      *recognizer.Recognizer
	builders map[string]*captions.Builder
	rules    *captions.Rules
	// subHead: the model has a subtitle head, whose results feed the
	// subtitle track instead of rules applied to the verbatim words.
	subHead  bool
	lag      int64 // media ticks the recogniser can hold back (one chunk)
	err      error // first error from the recogniser callback
	samples  int64 // 16 kHz samples recognised
	arrivals arrivalRing
}

// arrivalRing remembers when recent audio arrived, by media time, for
// latency measurement.
type arrivalRing struct {
	pts  [4096]int64
	wall [4096]time.Time
	n    int
}

func (a *arrivalRing) add(pts int64, wall time.Time) {
	a.pts[a.n%len(a.pts)], a.wall[a.n%len(a.wall)] = pts, wall
	a.n++
}

// at returns the arrival time of the earliest remembered audio ending at or
// after pts, looking back from the newest audio only as far as media time
// keeps going back: after a loop or a PTS jump, older audio with larger
// PTS belongs to another timeline.
func (a *arrivalRing) at(pts int64) (time.Time, bool) {
	lo := max(0, a.n-len(a.pts))
	found := -1
	for i := a.n - 1; i >= lo; i-- {
		p := a.pts[i%len(a.pts)]
		if p < pts || (found >= 0 && p > a.pts[found%len(a.pts)]) {
			break
		}
		found = i
	}
	if found < 0 {
		return time.Time{}, false
	}
	return a.wall[found%len(a.wall)], true
}

// reset forgets every arrival (a new timeline starts).
func (a *arrivalRing) reset() { a.n = 0 }

func newChain(e *engine, opts chainOptions) (*chain, error) {
	c := &chain{opts: opts, builders: map[string]*captions.Builder{}}
	for _, tr := range opts.Tracks {
		o := opts.Captions
		o.Track = tr
		o.Language = opts.Language
		if id := opts.FirstIDs[tr]; id > 0 {
			o.FirstID = id
		}
		b, err := captions.NewBuilder(o)
		if err != nil {
			return nil, fmt.Errorf("captions for track %s: %w", tr, err)
		}
		c.builders[tr] = b
		if tr == decoder.TrackSubtitle {
			rc := opts.Rules
			rc.Language = opts.Language
			if c.rules, err = captions.NewRules(rc); err != nil {
				return nil, fmt.Errorf("subtitle rules: %w", err)
			}
		}
	}
	rec, err := e.recognizer("", opts.Partials, c.onResult)
	if err != nil {
		return nil, err
	}
	c.rec = rec
	c.subHead = slices.Contains(rec.Tracks(), decoder.TrackSubtitle)
	c.lag = e.lag
	return c, nil
}

// pes feeds one audio PES from the demuxer.
func (c *chain) pes(p mpegts.PES) error { return c.packet(p, false, 0) }

// packet feeds one unit of compressed audio. raw marks an Opus packet that
// arrived as it is (WebRTC), not in the TS Opus framing; channels is its
// negotiated channel count (0: the decoder's default).
func (c *chain) packet(p mpegts.PES, raw bool, channels int) error {
	if c.dec != nil && (p.Codec != c.dec.Codec()) {
		if err := c.flushDecoder(); err != nil {
			return err
		}
		c.dec.Close()
		c.dec = nil
	}
	if c.dec == nil {
		d, err := audio.NewDecoder(p.Codec, audio.Options{OpusChannels: channels})
		if err != nil {
			return fmt.Errorf("PID %d (stream type 0x%02x): %w", p.PID, p.StreamType, err)
		}
		c.dec = d
	} else if p.Discontinuity {
		c.dec.MarkDiscontinuity()
	}
	if p.Codec == ingest.CodecOpus && !raw {
		// An Opus PES holds several packets behind control headers; each
		// is decoded alone and only the first carries the PES PTS.
		pkts, err := mpegts.SplitOpus(p.Data)
		if err != nil {
			return nil // malformed Opus framing: skip the PES; the next PTS re-anchors
		}
		for i, pkt := range pkts {
			if err := c.decode(p, pkt, p.HasPTS && i == 0); err != nil {
				return err
			}
		}
		return nil
	}
	return c.decode(p, p.Data, p.HasPTS)
}

func (c *chain) decode(p mpegts.PES, data []byte, hasPTS bool) error {
	frames, err := c.dec.Decode(data, p.PTS, hasPTS, wallNow())
	if err != nil {
		return fmt.Errorf("PID %d: %w", p.PID, err)
	}
	return c.frames(frames)
}

// frames feeds decoded audio to the recogniser and moves caption time on.
func (c *chain) frames(fs []ingest.Frame) error {
	for _, f := range fs {
		if f.Discontinuity {
			c.discontinuity()
		}
		if err := c.rec.Accept(f); err != nil {
			return err
		}
		if c.err != nil {
			return c.err
		}
		end := ingest.SamplePTS(f.PTS, int64(len(f.Samples)))
		c.samples += int64(len(f.Samples))
		c.arrivals.add(end, f.Wall)
		for _, b := range c.builders {
			for _, cue := range b.Advance(end - c.lag) {
				c.opts.OnCue(cue)
			}
		}
	}
	return nil
}

func (c *chain) discontinuity() {
	c.arrivals.reset()
	for _, b := range c.builders {
		c.deliver(b.Discontinuity())
	}
}

// onResult routes a recogniser result to the track builders. The subtitle
// track comes from the model's subtitle head when it has one, otherwise
// from the verbatim words; either way the subtitle rules (word filter,
// replacements, casing…) apply.
func (c *chain) onResult(r decoder.Result) {
	if r.Track == decoder.TrackSubtitle {
		c.pushSubtitle(r)
		return
	}
	if b, ok := c.builders[decoder.TrackVerbatim]; ok {
		r.Track = decoder.TrackVerbatim
		c.push(b, r)
	}
	if !c.subHead {
		c.pushSubtitle(r)
	}
}

func (c *chain) pushSubtitle(r decoder.Result) {
	if b, ok := c.builders[decoder.TrackSubtitle]; ok && (r.Final || c.opts.Partials) {
		s := c.rules.Apply(r)
		s.Track = decoder.TrackSubtitle
		c.push(b, s)
	}
}

func (c *chain) push(b *captions.Builder, r decoder.Result) {
	u, err := b.Push(r)
	if err != nil {
		if c.err == nil {
			c.err = fmt.Errorf("captions: %w", err)
		}
		return
	}
	c.deliver(u)
}

func (c *chain) deliver(u captions.Update) {
	for _, cue := range u.Cues {
		c.opts.OnCue(cue)
	}
	if u.PartialChanged && c.opts.OnPartial != nil {
		c.opts.OnPartial(u.Partial)
	}
}

func (c *chain) flushDecoder() error {
	if c.dec == nil {
		return nil
	}
	return c.frames(c.dec.Flush())
}

// finish drains the decoder and the recogniser and releases every cue.
func (c *chain) finish() error {
	if err := c.flushDecoder(); err != nil {
		return err
	}
	if err := c.rec.Finish(); err != nil {
		return err
	}
	if c.err != nil {
		return c.err
	}
	for _, tr := range c.opts.Tracks {
		c.deliver(c.builders[tr].Flush())
	}
	return nil
}

// idle finalises everything in flight when the input has paused: the
// decoder and recogniser are flushed and the held-back cues released, so a
// live input that stops does not keep its last words. Audio that follows
// starts a new segment.
func (c *chain) idle() error {
	return c.finish()
}

// close frees the decoder and leaves the model's scheduler.
func (c *chain) close() {
	c.rec.Close()
	if c.dec != nil {
		c.dec.Close()
		c.dec = nil
	}
}
