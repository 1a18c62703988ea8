// Package audio decodes compressed audio to 16 kHz mono float32 frames in
// media time, through a thin cgo layer over libavcodec and libswresample.
//
// It handles AAC in ADTS and in LATM/LOAS framing, MPEG-1/2 Layer II, AC-3,
// E-AC-3 and Opus. Framed codecs go through libavcodec's parsers, so a PES
// payload may hold several access units or part of one. Opus is decoded one
// packet per Decode call, as WebRTC delivers it.
//
// Time follows ARCHITECTURE §3. A segment is anchored on the PTS of its first
// decoded sample; output sample n of the segment has PTS
// ingest.SamplePTS(anchor, n), computed from a running sample count so that
// nothing drifts. The resampler maps its output sample 0 to its input sample
// 0, so its filter delay shifts output in wall time only, never in media
// time. Decoder priming (for example AAC's 1024 encoder-delay samples) is
// audio like any other: in TS and RTP the PTS of an access unit is the time
// of its first decoded sample, so nothing is trimmed unless the codec's own
// configuration says so (an OpusHead pre-skip), in which case libavcodec
// trims it and moves the PTS with it.
//
// A PTS that disagrees with the sample clock by more than Options.MaxPTSJump,
// a call to MarkDiscontinuity, or Flush ends the segment: the resampler is
// drained into it, and the next Frame starts a new one with Discontinuity set.
// Corrupt input is counted in Stats and skipped; it is never an error. An
// access unit the decoder rejects is replaced by silence of the previous
// frame's length (at most 16 in a row), so that the sample clock
// keeps step with the stream; damage that desynchronises the parser still
// loses time, up to MaxPTSJump, after which the PTS check re-anchors.
package audio

/*
#cgo pkg-config: libavcodec libswresample libavutil
#include <libavutil/error.h>
#include "cav.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/subtitled/subtitled/ingest"
)

// ErrUnsupportedCodec is returned by NewDecoder for a codec this package (or
// the linked libavcodec) cannot decode.
var ErrUnsupportedCodec = errors.New("audio: unsupported codec")

// ErrClosed is returned by Decode after Close.
var ErrClosed = errors.New("audio: decoder closed")

// DefaultMaxPTSJump is the PTS disagreement that starts a new segment when
// Options.MaxPTSJump is zero.
const DefaultMaxPTSJump = time.Second

// maxPayload bounds one Decode payload; a larger one is counted as an error.
const maxPayload = 64 << 20

// maxConceal bounds how many rejected access units in a row are replaced
// by silence.
const maxConceal = 16

// maxMarks bounds the PTS marks waiting for an access unit to start.
const maxMarks = 256

// Options configure a Decoder. The zero value is ready to use.
type Options struct {
	// MaxPTSJump is how far an incoming PTS may disagree with the sample
	// clock before the segment is split. Zero means DefaultMaxPTSJump.
	MaxPTSJump time.Duration
	// OpusChannels is the channel count assumed for Opus without
	// Extradata: 1 or 2. Zero means 2. Either decodes mono and stereo
	// packets; it sets the decoder's output layout.
	OpusChannels int
	// Extradata is the codec configuration, if the transport carries one
	// out of band: an OpusHead for Opus. Framed codecs do not need it.
	Extradata []byte
}

// Stats are a Decoder's running counters.
type Stats struct {
	BytesIn          uint64 // payload bytes passed to Decode
	Packets          uint64 // access units sent to the decoder
	FramesDecoded    uint64 // frames the decoder produced
	DecodeErrors     uint64 // access units or frames rejected, and unusable frames
	SamplesOut       uint64 // 16 kHz samples emitted in Frames
	SamplesDropped   uint64 // decoded samples (decoder rate) dropped while no PTS anchored a segment
	SamplesClipped   uint64 // output samples clamped into [-1, 1] (or NaN replaced by 0)
	SamplesConcealed uint64 // silence (decoder rate) put in place of rejected access units
	Discontinuities  uint64 // segments ended by a PTS jump or MarkDiscontinuity
	PTSJumps         uint64 // of those, the PTS jumps
	Reconfigs        uint64 // resampler rebuilds for a sample rate, layout or format change
}

type counters struct {
	bytesIn, packets, frames, errors, samplesOut, dropped, clipped, concealed,
	discontinuities, ptsJumps, reconfigs atomic.Uint64
}

// ptsMark is a PTS waiting for the first access unit that starts at or
// after byte offset off of the parsed stream.
type ptsMark struct {
	off int64
	pts int64
}

// Decoder decodes one audio stream. Its methods may be called from several
// goroutines, but calls are serialised; Stats never blocks.
type Decoder struct {
	mu      sync.Mutex
	c       *C.sd_dec
	codec   ingest.Codec
	parse   bool
	maxJump int64 // in 90 kHz ticks

	pos   int64 // bytes the parser has consumed since the last reset
	marks []ptsMark

	anchored     bool
	everAnchored bool
	anchor       int64 // PTS of output sample 0 of the segment
	outN         int64 // output samples emitted in the segment
	inBase       int64 // PTS of input sample 0 at the current input rate
	inN          int64 // input samples since inBase
	inRate       int64
	lastNb       int64 // samples in the last decoded frame
	concealRun   int   // rejected access units in a row
	disc         bool  // the next emitted Frame starts a segment after a break
	wall         time.Time
	held         []ingest.Frame // emitted outside Decode, returned by the next call

	st counters
}

var quietOnce sync.Once

// NewDecoder returns a Decoder for codec. It fails with ErrUnsupportedCodec
// for a codec it does not know.
func NewDecoder(codec ingest.Codec, opts Options) (*Decoder, error) {
	var id C.int
	parse := true
	switch codec {
	case ingest.CodecAACADTS:
		id = C.SD_AAC
	case ingest.CodecAACLATM:
		id = C.SD_AAC_LATM
	case ingest.CodecMP2:
		id = C.SD_MP2
	case ingest.CodecAC3:
		id = C.SD_AC3
	case ingest.CodecEAC3:
		id = C.SD_EAC3
	case ingest.CodecOpus:
		id = C.SD_OPUS
		parse = false
	default:
		return nil, fmt.Errorf("%w: %v (%d)", ErrUnsupportedCodec, codec, int(codec))
	}
	if opts.MaxPTSJump < 0 {
		return nil, fmt.Errorf("audio: negative MaxPTSJump %v", opts.MaxPTSJump)
	}
	if opts.OpusChannels < 0 || opts.OpusChannels > 2 {
		return nil, fmt.Errorf("audio: OpusChannels %d: want 1 or 2", opts.OpusChannels)
	}
	if len(opts.Extradata) > 1<<20 {
		return nil, fmt.Errorf("audio: Extradata of %d bytes is too large", len(opts.Extradata))
	}
	jump := opts.MaxPTSJump
	if jump == 0 {
		jump = DefaultMaxPTSJump
	}
	if jump > 24*time.Hour*365 {
		jump = 24 * time.Hour * 365
	}
	channels := 0
	if codec == ingest.CodecOpus && len(opts.Extradata) == 0 {
		channels = opts.OpusChannels
		if channels == 0 {
			channels = 2
		}
	}

	// libav logs every corrupt frame on stderr; errors are counted instead.
	quietOnce.Do(func() { C.sd_quiet_logs() })

	var extra *C.uint8_t
	if len(opts.Extradata) > 0 {
		extra = (*C.uint8_t)(unsafe.Pointer(&opts.Extradata[0]))
	}
	var c *C.sd_dec
	if rc := C.sd_open(&c, id, cbool(parse), extra, C.int(len(opts.Extradata)), C.int(channels)); rc < 0 {
		err := averr(rc)
		if rc == C.sd_err_decoder_not_found() {
			err = fmt.Errorf("%w: %v: %w", ErrUnsupportedCodec, codec, err)
		}
		return nil, fmt.Errorf("audio: open %v decoder: %w", codec, err)
	}
	return &Decoder{
		c:       c,
		codec:   codec,
		parse:   parse,
		maxJump: int64(jump/time.Microsecond) * ingest.PTSHz / 1e6,
	}, nil
}

// Decode decodes one payload and returns the Frames it completes. For framed
// codecs payload may hold any number of access units or parts of them, and
// pts (90 kHz, unwrapped) is that of the first access unit starting in it;
// for Opus payload is one packet and pts its time. hasPTS false means the
// payload carries no PTS. wall is the arrival time, copied to the Frames.
//
// Corrupt data is counted in Stats and skipped. The only error is ErrClosed
// (or an allocation failure inside libav).
func (d *Decoder) Decode(payload []byte, pts int64, hasPTS bool, wall time.Time) ([]ingest.Frame, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		return nil, ErrClosed
	}
	out := d.held
	d.held = nil
	d.wall = wall
	d.st.bytesIn.Add(uint64(len(payload)))
	if len(payload) == 0 {
		return out, nil
	}
	if len(payload) > maxPayload {
		d.st.errors.Add(1)
		return out, nil
	}
	if rc := C.sd_load(d.c, (*C.uint8_t)(unsafe.Pointer(&payload[0])), C.int(len(payload))); rc < 0 {
		return out, fmt.Errorf("audio: load payload: %w", averr(rc))
	}
	if !d.parse {
		C.sd_packet_whole(d.c)
		return d.send(out, pts, hasPTS), nil
	}
	if hasPTS {
		if len(d.marks) >= maxMarks {
			d.marks = append(d.marks[:0], d.marks[1:]...)
		}
		d.marks = append(d.marks, ptsMark{off: d.pos, pts: pts})
	}
	stalled := 0
	for off := 0; off < len(payload); {
		var size C.int
		n := C.sd_parse(d.c, C.int(off), 0, &size)
		if n < 0 {
			d.st.errors.Add(1)
			break
		}
		off += int(n)
		d.pos += int64(n)
		if size > 0 {
			p, ok := d.ptsAt(d.pos - int64(size))
			out = d.send(out, p, ok)
		}
		if n == 0 && size == 0 {
			// The parser neither consumed nor produced anything; it
			// never does that with input left, but do not spin.
			if stalled++; stalled > 2 {
				d.st.errors.Add(1)
				break
			}
		} else {
			stalled = 0
		}
	}
	return out, nil
}

// Flush ends the stream: it decodes what the parser and decoder still hold,
// drains the resampler, and returns the last Frames. The Decoder stays
// usable; a later Decode starts a new segment marked as a discontinuity.
func (d *Decoder) Flush() []ingest.Frame {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		return nil
	}
	out := d.held
	d.held = nil
	if d.parse {
		for range 16 {
			var size C.int
			if n := C.sd_parse(d.c, 0, 1, &size); n < 0 || size <= 0 {
				break
			}
			p, ok := d.ptsAt(d.pos - int64(size))
			out = d.send(out, p, ok)
		}
	}
	if rc := C.sd_send(d.c, 0, 0, 1); rc >= 0 {
		out = d.receive(out)
	}
	out = d.endSegment(out)
	d.reset()
	if d.everAnchored {
		d.disc = true
	}
	return out
}

// MarkDiscontinuity tells the Decoder that the input breaks here (a PID or
// program change, a reconnect, a discontinuity_indicator). What is buffered
// of the old input is finished or dropped, and the next Frame starts a new
// segment, anchored on the next PTS, with Discontinuity set. Frames drained
// from the old segment are returned by the next Decode or Flush.
func (d *Decoder) MarkDiscontinuity() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		return
	}
	d.held = d.endSegment(d.held)
	d.reset()
	d.disc = true
	d.st.discontinuities.Add(1)
}

// Stats returns a snapshot of the counters.
func (d *Decoder) Stats() Stats {
	return Stats{
		BytesIn:          d.st.bytesIn.Load(),
		Packets:          d.st.packets.Load(),
		FramesDecoded:    d.st.frames.Load(),
		DecodeErrors:     d.st.errors.Load(),
		SamplesOut:       d.st.samplesOut.Load(),
		SamplesDropped:   d.st.dropped.Load(),
		SamplesClipped:   d.st.clipped.Load(),
		SamplesConcealed: d.st.concealed.Load(),
		Discontinuities:  d.st.discontinuities.Load(),
		PTSJumps:         d.st.ptsJumps.Load(),
		Reconfigs:        d.st.reconfigs.Load(),
	}
}

// Codec returns the codec the Decoder was made for.
func (d *Decoder) Codec() ingest.Codec { return d.codec }

// Close frees the decoder's C resources. It is idempotent; undelivered
// Frames are discarded.
func (d *Decoder) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		return
	}
	C.sd_close(d.c)
	d.c = nil
	d.held = nil
	d.marks = nil
}

// ptsAt returns the PTS for an access unit starting at byte offset start:
// that of the latest mark at or before start not yet taken by an earlier
// access unit.
func (d *Decoder) ptsAt(start int64) (int64, bool) {
	var pts int64
	ok := false
	i := 0
	for ; i < len(d.marks) && d.marks[i].off <= start; i++ {
		pts, ok = d.marks[i].pts, true
	}
	if i > 0 {
		d.marks = append(d.marks[:0], d.marks[i:]...)
	}
	return pts, ok
}

// send hands the pending packet to the decoder and collects its frames.
func (d *Decoder) send(out []ingest.Frame, pts int64, hasPTS bool) []ingest.Frame {
	d.st.packets.Add(1)
	rc := C.sd_send(d.c, C.int64_t(pts), cbool(hasPTS), 0)
	if rc < 0 && C.sd_is_eagain(rc) != 0 {
		// Not expected (frames are always drained), but recover.
		out = d.receive(out)
		rc = C.sd_send(d.c, C.int64_t(pts), cbool(hasPTS), 0)
	}
	if rc < 0 {
		d.st.errors.Add(1)
		d.conceal()
	}
	return d.receive(out)
}

// conceal stands in silence for an access unit the decoder rejected.
func (d *Decoder) conceal() {
	if !d.anchored || d.lastNb <= 0 || d.concealRun >= maxConceal || C.sd_swr_live(d.c) == 0 {
		return
	}
	if C.sd_conceal(d.c, C.int(d.lastNb)) < 0 {
		return
	}
	d.concealRun++
	d.inN += d.lastNb
	d.st.concealed.Add(uint64(d.lastNb))
}

// receive collects every frame the decoder has ready.
func (d *Decoder) receive(out []ingest.Frame) []ingest.Frame {
	for failures := 0; failures < 8; {
		var fi C.sd_frame_info
		rc := C.sd_receive(d.c, &fi)
		switch {
		case rc == 1:
			return out
		case rc < 0:
			d.st.errors.Add(1)
			failures++
		default:
			out = d.onFrame(out, &fi)
		}
	}
	return out
}

// onFrame places one decoded frame on the sample clock and resamples it.
func (d *Decoder) onFrame(out []ingest.Frame, fi *C.sd_frame_info) []ingest.Frame {
	d.st.frames.Add(1)
	nb, rate := int64(fi.nb_samples), int64(fi.sample_rate)
	if nb <= 0 || rate <= 0 || fi.channels <= 0 {
		d.st.errors.Add(1)
		return out
	}
	hasPTS, pts := fi.has_pts != 0, int64(fi.pts)
	if d.anchored && hasPTS {
		diff := pts - (d.inBase + d.inN*ingest.PTSHz/d.inRate)
		if diff > d.maxJump || diff < -d.maxJump {
			out = d.endSegment(out)
			d.disc = true
			d.st.ptsJumps.Add(1)
			d.st.discontinuities.Add(1)
		}
	}
	if !d.anchored {
		if !hasPTS {
			d.st.dropped.Add(uint64(nb))
			return out
		}
		d.anchored, d.everAnchored = true, true
		d.anchor, d.outN = pts, 0
		d.inBase, d.inN, d.inRate = pts, 0, rate
	}
	if C.sd_params_changed(d.c) != 0 {
		if C.sd_swr_live(d.c) != 0 {
			out = d.drain(out)
			d.inBase += d.inN * ingest.PTSHz / d.inRate
			d.inN = 0
			d.st.reconfigs.Add(1)
		}
		d.inRate = rate
		if rc := C.sd_swr_config(d.c, ingest.SampleRate); rc < 0 {
			d.st.errors.Add(1)
			return out
		}
	}
	n := C.sd_resample(d.c, 0)
	if n < 0 {
		d.st.errors.Add(1)
		return out
	}
	d.inN += nb
	d.lastNb, d.concealRun = nb, 0
	return d.emit(out, int(n))
}

// drain empties the resampler into the current segment and frees it.
func (d *Decoder) drain(out []ingest.Frame) []ingest.Frame {
	if C.sd_swr_live(d.c) == 0 {
		return out
	}
	for range 64 {
		n := C.sd_resample(d.c, 1)
		if n <= 0 {
			break
		}
		out = d.emit(out, int(n))
	}
	C.sd_swr_free(d.c)
	return out
}

// endSegment finishes the current segment.
func (d *Decoder) endSegment(out []ingest.Frame) []ingest.Frame {
	out = d.drain(out)
	d.anchored = false
	return out
}

// reset drops all buffered input state.
func (d *Decoder) reset() {
	if rc := C.sd_reset(d.c); rc < 0 {
		d.st.errors.Add(1)
	}
	d.marks = d.marks[:0]
	d.pos = 0
	d.anchored = false
}

// emit copies n resampled samples into a new Frame of the current segment.
func (d *Decoder) emit(out []ingest.Frame, n int) []ingest.Frame {
	if n <= 0 {
		return out
	}
	src := unsafe.Slice((*float32)(unsafe.Pointer(C.sd_out(d.c))), n)
	s := make([]float32, n)
	var clipped uint64
	for i, v := range src {
		switch {
		case v > 1:
			v = 1
			clipped++
		case v < -1:
			v = -1
			clipped++
		case v != v: // NaN
			v = 0
			clipped++
		}
		s[i] = v
	}
	out = append(out, ingest.Frame{
		Samples:       s,
		PTS:           ingest.SamplePTS(d.anchor, d.outN),
		Wall:          d.wall,
		Discontinuity: d.disc,
	})
	d.disc = false
	d.outN += int64(n)
	d.st.samplesOut.Add(uint64(n))
	d.st.clipped.Add(clipped)
	return out
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// averr turns a libav error code into a Go error.
func averr(rc C.int) error {
	buf := make([]byte, 128)
	C.av_strerror(rc, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	for i, b := range buf {
		if b == 0 {
			buf = buf[:i]
			break
		}
	}
	return fmt.Errorf("libav error %d: %s", int(rc), buf)
}
