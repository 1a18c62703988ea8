package audio

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/subtitled/subtitled/ingest"
)

const base = int64(900000) // 10 s

// toneRMS is the rms of a 0.5-amplitude sine.
var toneRMS = 0.5 / math.Sqrt2

func TestDecodeCodecs(t *testing.T) {
	opus := specs[ingest.CodecOpus]
	tests := []struct {
		name   string
		spec   codecSpec
		src    string
		extra  []string
		opts   Options
		head   bool    // pass the OpusHead as Extradata
		preVal int     // decoder-trimmed priming samples (48 kHz)
		rms    float64 // zero: toneRMS
	}{
		{name: "aac_adts", spec: specs[ingest.CodecAACADTS], src: srcTone},
		{name: "aac_latm", spec: specs[ingest.CodecAACLATM], src: srcTone},
		{name: "mp2", spec: specs[ingest.CodecMP2], src: srcTone},
		{name: "ac3", spec: specs[ingest.CodecAC3], src: srcTone},
		{name: "ac3_5.1", spec: specs[ingest.CodecAC3], src: srcTone51},
		{name: "eac3", spec: specs[ingest.CodecEAC3], src: srcTone},
		{name: "opus_stereo", spec: opus, src: srcTone},
		// ffmpeg's own stereo-to-mono downmix gives a 0.707 amplitude.
		{name: "opus_mono_stream_stereo_decoder", spec: opus, src: srcTone, extra: []string{"-ac", "1"}, rms: 0.5},
		{name: "opus_mono", spec: opus, src: srcTone, extra: []string{"-ac", "1"}, opts: Options{OpusChannels: 1}, rms: 0.5},
		{name: "opus_extradata", spec: opus, src: srcTone, head: true, preVal: 312},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := encode(t, tc.spec, tc.src, tc.extra...)
			opts := tc.opts
			if tc.head {
				opts.Extradata = s.opusHead
			}
			d := newDecoder(t, tc.spec.codec, opts)
			frames := feeder{}.run(t, d, s, base)
			segs := segments(t, frames)
			st := d.Stats()
			if st.DecodeErrors != 0 || st.Discontinuities != 0 || st.SamplesDropped != 0 || st.SamplesClipped != 0 {
				t.Errorf("stats %+v: want no errors, discontinuities, drops or clipping", st)
			}
			if len(segs) != 1 {
				t.Fatalf("%d segments, want 1", len(segs))
			}
			if frames[0].Discontinuity {
				t.Error("first frame marked as discontinuity")
			}
			wantAnchor := base + int64(tc.preVal)*ingest.PTSHz/48000
			if segs[0].anchor != wantAnchor {
				t.Errorf("anchor %d, want %d", segs[0].anchor, wantAnchor)
			}
			got := len(segs[0].samples)
			want := (s.samples() - tc.preVal) * ingest.SampleRate / s.rate
			if got < want-2 || got > want+2 {
				t.Errorf("%d samples out, want %d±2 (%d access units)", got, want, len(s.aus))
			}
			if st.SamplesOut != uint64(got) || st.FramesDecoded != uint64(len(s.aus)) || st.BytesIn != uint64(len(s.data)) {
				t.Errorf("stats %+v disagree with %d samples, %d access units, %d bytes", st, got, len(s.aus), len(s.data))
			}
			// Within one access unit plus encoder priming of the 3 s source.
			if dur := float64(got) / ingest.SampleRate; math.Abs(dur-3) > (1536.0+1024)/48000 {
				t.Errorf("duration %.4f s, want 3 s", dur)
			}
			wantRMS := toneRMS
			if tc.rms != 0 {
				wantRMS = tc.rms
			}
			checkTone(t, segs[0].samples[ingest.SampleRate/2:5*ingest.SampleRate/2], 1000, wantRMS)
			t.Logf("%d frames, %d samples, %d access units", len(frames), got, len(s.aus))
		})
	}
}

// The way a stream is cut into payloads must not change a single sample.
func TestChunkingInvariance(t *testing.T) {
	for _, c := range []ingest.Codec{ingest.CodecAACADTS, ingest.CodecAACLATM, ingest.CodecMP2, ingest.CodecAC3, ingest.CodecEAC3} {
		t.Run(c.String(), func(t *testing.T) {
			s := encode(t, specs[c], srcTone)
			var ref []float32
			for i, f := range []feeder{
				{chunks: []int{len(s.data)}},
				{perAU: true},
				{chunks: []int{1}},
				{chunks: oddChunks},
			} {
				segs := segments(t, f.run(t, newDecoder(t, c, Options{}), s, base))
				if len(segs) != 1 || segs[0].anchor != base {
					t.Fatalf("feeder %d: %d segments, want one anchored at %d", i, len(segs), base)
				}
				if i == 0 {
					ref = segs[0].samples
					continue
				}
				if len(segs[0].samples) != len(ref) {
					t.Fatalf("feeder %d: %d samples, want %d", i, len(segs[0].samples), len(ref))
				}
				for j := range ref {
					if segs[0].samples[j] != ref[j] {
						t.Fatalf("feeder %d: sample %d = %v, want %v", i, j, segs[0].samples[j], ref[j])
					}
				}
			}
		})
	}
}

func TestPTSJump(t *testing.T) {
	for _, c := range []ingest.Codec{ingest.CodecAACADTS, ingest.CodecAC3, ingest.CodecMP2, ingest.CodecOpus} {
		for _, jump := range []int64{5 * ingest.PTSHz, -3 * ingest.PTSHz, 91000, -91000} {
			t.Run(fmt.Sprintf("%v/%+d", c, jump), func(t *testing.T) {
				s := encode(t, specs[c], srcTone)
				k := len(s.aus) / 2
				j := -1 // first access unit at or after k handed a PTS
				f := feeder{pts: func(i int, p int64) int64 {
					if i < k {
						return p
					}
					if j < 0 {
						j = i
					}
					return p + jump
				}}
				d := newDecoder(t, c, Options{})
				frames := f.run(t, d, s, base)
				segs := segments(t, frames)
				if len(segs) != 2 {
					t.Fatalf("jump %d: %d segments, want 2", jump, len(segs))
				}
				if st := d.Stats(); st.PTSJumps != 1 || st.Discontinuities != 1 {
					t.Errorf("stats %+v: want 1 PTS jump", st)
				}
				if segs[0].anchor != base {
					t.Errorf("first anchor %d, want %d", segs[0].anchor, base)
				}
				if want := s.auPTS(base, j) + jump; segs[1].anchor != want {
					t.Errorf("second anchor %d, want %d (access unit %d)", segs[1].anchor, want, j)
				}
				n0 := 0
				for _, a := range s.aus[:j] {
					n0 += a.samples
				}
				if got, want := len(segs[0].samples), n0/3; got < want-2 || got > want+2 {
					t.Errorf("first segment %d samples, want %d±2", got, want)
				}
				flags := 0
				for _, fr := range frames {
					if fr.Discontinuity {
						flags++
					}
				}
				if flags != 1 {
					t.Errorf("%d frames marked Discontinuity, want 1", flags)
				}
			})
		}
	}
}

func TestPTSJitterDoesNotReanchor(t *testing.T) {
	for _, c := range []ingest.Codec{ingest.CodecAACADTS, ingest.CodecMP2, ingest.CodecEAC3, ingest.CodecOpus} {
		t.Run(c.String(), func(t *testing.T) {
			s := encode(t, specs[c], srcTone)
			jitter := func(seed uint64) func(int, int64) int64 {
				r := rand.New(rand.NewPCG(seed, 7))
				return func(_ int, p int64) int64 { return p + r.Int64N(2*9000+1) - 9000 } // ±100 ms
			}
			d := newDecoder(t, c, Options{})
			f := feeder{pts: jitter(1)}
			first := f.pts(0, base)
			f.pts = jitter(1)
			segs := segments(t, f.run(t, d, s, base))
			if len(segs) != 1 {
				t.Fatalf("%d segments, want 1", len(segs))
			}
			if segs[0].anchor != first {
				t.Errorf("anchor %d, want the first PTS %d", segs[0].anchor, first)
			}
			if st := d.Stats(); st.Discontinuities != 0 {
				t.Errorf("stats %+v: want no discontinuity", st)
			}

			// The threshold is configurable: at 50 ms the same jitter splits.
			d = newDecoder(t, c, Options{MaxPTSJump: 50 * time.Millisecond})
			segments(t, feeder{pts: jitter(1)}.run(t, d, s, base))
			if st := d.Stats(); st.PTSJumps == 0 {
				t.Errorf("MaxPTSJump 50ms: stats %+v, want PTS jumps", st)
			}
		})
	}
}

func TestPTSBeyond33Bits(t *testing.T) {
	s := encode(t, specs[ingest.CodecAACADTS], srcTone)
	for _, b := range []int64{0, 1<<33 - ingest.PTSHz, 7<<33 + 12345, 1 << 50} {
		d := newDecoder(t, ingest.CodecAACADTS, Options{})
		frames := feeder{}.run(t, d, s, b)
		segs := segments(t, frames)
		if len(segs) != 1 || segs[0].anchor != b {
			t.Fatalf("base %d: %d segments, anchor %d", b, len(segs), segs[0].anchor)
		}
		last := frames[len(frames)-1]
		if want := ingest.SamplePTS(b, int64(len(segs[0].samples)-len(last.Samples))); last.PTS != want {
			t.Errorf("base %d: last PTS %d, want %d", b, last.PTS, want)
		}
		if b == 1<<33-ingest.PTSHz && last.PTS <= 1<<33 {
			t.Errorf("last PTS %d did not pass 2^33", last.PTS)
		}
	}
}

func TestMarkDiscontinuity(t *testing.T) {
	for _, c := range []ingest.Codec{ingest.CodecAACADTS, ingest.CodecAACLATM, ingest.CodecOpus} {
		t.Run(c.String(), func(t *testing.T) {
			s := encode(t, specs[c], srcTone)
			k := len(s.aus) / 3
			const newBase = 5_000_000
			var d *Decoder
			f := feeder{
				perAU: true,
				before: func(i int) {
					if i == k {
						d.MarkDiscontinuity()
					}
				},
				pts: func(i int, p int64) int64 {
					if i < k {
						return p
					}
					return newBase + p - s.auPTS(base, k)
				},
			}
			d = newDecoder(t, c, Options{})
			frames := f.run(t, d, s, base)
			segs := segments(t, frames)
			if len(segs) != 2 {
				t.Fatalf("%d segments, want 2", len(segs))
			}
			if segs[1].anchor != newBase {
				t.Errorf("second anchor %d, want %d", segs[1].anchor, newBase)
			}
			if st := d.Stats(); st.Discontinuities != 1 || st.PTSJumps != 0 {
				t.Errorf("stats %+v: want 1 discontinuity, no PTS jump", st)
			}
			n0 := 0
			for _, a := range s.aus[:k] {
				n0 += a.samples
			}
			// LATM's parser holds one access unit until the next sync word;
			// a discontinuity drops it.
			lo := n0/3 - 2
			if c == ingest.CodecAACLATM {
				lo -= s.aus[0].samples / 3
			}
			if got := len(segs[0].samples); got < lo || got > n0/3+2 {
				t.Errorf("first segment %d samples, want %d..%d", got, lo, n0/3+2)
			}
			checkTone(t, segs[1].samples[ingest.SampleRate/4:len(segs[1].samples)-ingest.SampleRate/4], 1000, toneRMS)
		})
	}
}

// A change of sample rate or channel layout mid-stream rebuilds the
// resampler without breaking the sample clock.
func TestParameterChange(t *testing.T) {
	tests := []struct {
		name       string
		codec      ingest.Codec
		a, b       string
		bExtra     []string
		bFreq      float64
		bRate      int
		bRMSFactor float64
	}{
		{"aac_48k_stereo_to_44k1_mono", ingest.CodecAACADTS, srcTone1kShort, srcTone600Mono44, nil, 600, 44100, 1},
		{"ac3_stereo_to_5.1", ingest.CodecAC3, srcTone1kShort, srcTone51, []string{"-t", "1.5"}, 1000, 48000, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := encode(t, specs[tc.codec], tc.a)
			b := encode(t, specs[tc.codec], tc.b, tc.bExtra...)
			if b.rate != tc.bRate {
				t.Fatalf("second stream at %d Hz, want %d", b.rate, tc.bRate)
			}
			s := &stream{rate: a.rate, data: append(append([]byte(nil), a.data...), b.data...)}
			s.aus = append(s.aus, a.aus...)
			for _, u := range b.aus {
				u.off += len(a.data)
				s.aus = append(s.aus, u)
			}
			aEnd := a.auPTS(base, len(a.aus))
			f := feeder{pts: func(i int, p int64) int64 {
				if i < len(a.aus) {
					return p
				}
				return b.auPTS(aEnd, i-len(a.aus))
			}}
			d := newDecoder(t, tc.codec, Options{})
			segs := segments(t, f.run(t, d, s, base))
			st := d.Stats()
			if len(segs) != 1 || st.Discontinuities != 0 {
				t.Fatalf("%d segments, stats %+v: want 1 segment", len(segs), st)
			}
			if st.Reconfigs != 1 || st.DecodeErrors != 0 {
				t.Errorf("stats %+v: want 1 reconfiguration, no errors", st)
			}
			nA := a.samples() * ingest.SampleRate / a.rate
			nB := b.samples() * ingest.SampleRate / b.rate
			x := segs[0].samples
			if len(x) < nA+nB-3 || len(x) > nA+nB+3 {
				t.Errorf("%d samples, want %d+%d ±3", len(x), nA, nB)
			}
			sec := ingest.SampleRate
			checkTone(t, x[sec/4:nA-sec/4], 1000, toneRMS)
			checkTone(t, x[nA+sec/4:min(len(x), nA+nB)-sec/4], tc.bFreq, toneRMS*tc.bRMSFactor)
		})
	}
}

// The first decoded sample maps to its access unit's PTS, and the resampler
// adds no offset: a tone onset lands where ffmpeg's own decode puts it.
func TestOnsetAlignment(t *testing.T) {
	tests := []struct {
		codec  ingest.Codec
		format string
	}{
		{ingest.CodecAACADTS, "aac"},
		{ingest.CodecAACLATM, "loas"},
		{ingest.CodecMP2, "mp3"},
		{ingest.CodecAC3, "ac3"},
		{ingest.CodecEAC3, "eac3"},
		{ingest.CodecOpus, "ogg"},
	}
	for _, tc := range tests {
		t.Run(tc.codec.String(), func(t *testing.T) {
			s := encode(t, specs[tc.codec], srcOnset)
			opts := Options{}
			preSkip := 0
			if tc.codec == ingest.CodecOpus {
				// ffmpeg trims the OpusHead pre-skip; so does the decoder
				// when given the OpusHead.
				opts.Extradata = s.opusHead
				preSkip = int(s.opusHead[10]) | int(s.opusHead[11])<<8
			}
			d := newDecoder(t, tc.codec, opts)
			segs := segments(t, feeder{}.run(t, d, s, base))
			if len(segs) != 1 {
				t.Fatalf("%d segments", len(segs))
			}
			i := onset(segs[0].samples, 0.25)
			ref := onset(ffmpegDecode(t, s, tc.format), 0.25)
			if i < 0 || ref < 0 {
				t.Fatalf("no onset found (ours %d, ffmpeg %d)", i, ref)
			}
			got := float64(ingest.SamplePTS(segs[0].anchor, int64(i))-base) / ingest.PTSHz
			want := float64(ref+preSkip) / 48000
			if math.Abs(got-want) > 0.001 {
				t.Errorf("onset at %.5f s, ffmpeg at %.5f s", got, want)
			}
			t.Logf("onset %.5f s (ffmpeg %.5f s)", got, want)
		})
	}
}

func TestUnsupportedCodec(t *testing.T) {
	for _, c := range []ingest.Codec{ingest.CodecUnknown, ingest.Codec(-1), ingest.Codec(42)} {
		if _, err := NewDecoder(c, Options{}); !errors.Is(err, ErrUnsupportedCodec) {
			t.Errorf("NewDecoder(%d): %v, want ErrUnsupportedCodec", int(c), err)
		}
	}
	for _, o := range []Options{{MaxPTSJump: -1}, {OpusChannels: 3}, {OpusChannels: -1}} {
		if _, err := NewDecoder(ingest.CodecOpus, o); err == nil || errors.Is(err, ErrUnsupportedCodec) {
			t.Errorf("NewDecoder(opus, %+v): %v, want an options error", o, err)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	s := encode(t, specs[ingest.CodecAACADTS], srcTone)
	d, err := NewDecoder(ingest.CodecAACADTS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decode(s.data[:5000], base, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	d.MarkDiscontinuity() // frames held for the next call are discarded by Close
	d.Close()
	d.Close()
	if _, err := d.Decode(s.data[5000:6000], base, true, time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("Decode after Close: %v, want ErrClosed", err)
	}
	if fr := d.Flush(); fr != nil {
		t.Errorf("Flush after Close returned %d frames", len(fr))
	}
	d.MarkDiscontinuity()
	if st := d.Stats(); st.BytesIn != 5000 {
		t.Errorf("BytesIn %d, want 5000 (nothing counted after Close)", st.BytesIn)
	}
}

// Flush ends a stream; the decoder then takes a new one as a new segment.
func TestFlushThenReuse(t *testing.T) {
	s := encode(t, specs[ingest.CodecAC3], srcTone)
	d := newDecoder(t, ingest.CodecAC3, Options{})
	first := feeder{}.run(t, d, s, base)
	second := feeder{}.run(t, d, s, base)
	if len(first) == 0 || len(second) == 0 {
		t.Fatal("no frames")
	}
	if !second[0].Discontinuity || second[0].PTS != base {
		t.Errorf("first frame after Flush: PTS %d discontinuity %v, want %d true", second[0].PTS, second[0].Discontinuity, base)
	}
	a, b := segments(t, first), segments(t, second)
	if len(a) != 1 || len(b) != 1 || len(a[0].samples) != len(b[0].samples) {
		t.Errorf("segments %d and %d; want one each, same length", len(a), len(b))
	}
}

// Corrupt access units are counted and skipped; decoding recovers.
func TestCorruptionRecovers(t *testing.T) {
	for c := range specs {
		t.Run(c.String(), func(t *testing.T) {
			s := encode(t, specs[c], srcTone)
			bad := *s
			bad.data = append([]byte(nil), s.data...)
			r := rand.New(rand.NewPCG(uint64(c), 1))
			// Scramble the bodies of a run of access units in the middle,
			// keeping their first 8 bytes (the headers).
			for i := len(s.aus) / 3; i < len(s.aus)/3+10; i++ {
				a := s.aus[i]
				for j := a.off + min(8, a.size); j < a.off+a.size; j++ {
					bad.data[j] = byte(r.Uint32())
				}
			}
			// And a burst of random bytes between two access units.
			k := s.aus[len(s.aus)/2].off
			junk := make([]byte, 3000)
			for i := range junk {
				junk[i] = byte(r.Uint32())
			}
			bad.aus = append([]accessUnit(nil), s.aus...)
			if c == ingest.CodecOpus {
				// A junk packet of no nominal duration.
				j := len(s.aus) / 2
				bad.aus = append(bad.aus[:j:j], append([]accessUnit{{off: len(bad.data), size: len(junk)}}, bad.aus[j:]...)...)
				bad.data = append(bad.data, junk...)
			} else {
				bad.data = append(bad.data[:k:k], append(junk, bad.data[k:]...)...)
				for i := len(s.aus) / 2; i < len(bad.aus); i++ {
					bad.aus[i].off += len(junk)
				}
			}
			d := newDecoder(t, c, Options{})
			segs := segments(t, feeder{}.run(t, d, &bad, base))
			st := d.Stats()
			if c == ingest.CodecAACADTS && st.DecodeErrors == 0 {
				t.Errorf("stats %+v: want decode errors counted", st)
			}
			last := segs[len(segs)-1].samples
			if len(last) < ingest.SampleRate {
				t.Fatalf("last segment has %d samples", len(last))
			}
			checkTone(t, last[len(last)-ingest.SampleRate:len(last)-ingest.SampleRate/10], 1000, toneRMS)
			t.Logf("stats %+v", st)
		})
	}
}

// Random bytes never crash and never yield out-of-range samples.
func TestGarbage(t *testing.T) {
	for c := range specs {
		t.Run(c.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c), 2))
			d := newDecoder(t, c, Options{})
			var frames []ingest.Frame
			pts := base
			for range 400 {
				p := make([]byte, 1+r.IntN(1500))
				for i := range p {
					p[i] = byte(r.Uint32())
				}
				if r.IntN(4) == 0 && len(p) > 4 { // plant sync words
					copy(p, [][]byte{{0xff, 0xf1}, {0x56, 0xe0}, {0xff, 0xfd}, {0x0b, 0x77}, {0x78}}[r.IntN(5)])
				}
				out, err := d.Decode(p, pts, r.IntN(2) == 0, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				frames = append(frames, out...)
				pts += int64(r.IntN(4000))
				if r.IntN(50) == 0 {
					d.MarkDiscontinuity()
				}
			}
			frames = append(frames, d.Flush()...)
			segments(t, frames)
			t.Logf("%d frames; stats %+v", len(frames), d.Stats())
		})
	}
}

// Access units the decoder rejects are replaced by silence in place, so the
// sample clock stays in step with the stream.
func TestConcealment(t *testing.T) {
	for _, c := range []ingest.Codec{ingest.CodecAACADTS, ingest.CodecAACLATM} {
		t.Run(c.String(), func(t *testing.T) {
			s := encode(t, specs[c], srcTone)
			bad := *s
			bad.data = append([]byte(nil), s.data...)
			const first, count = 40, 10
			r := rand.New(rand.NewPCG(3, 3))
			for _, a := range s.aus[first : first+count] {
				for j := a.off + 8; j < a.off+a.size; j++ {
					bad.data[j] = byte(r.Uint32())
				}
			}
			d := newDecoder(t, c, Options{})
			segs := segments(t, feeder{}.run(t, d, &bad, base))
			clean := segments(t, feeder{}.run(t, newDecoder(t, c, Options{}), s, base))
			st := d.Stats()
			if len(segs) != 1 || st.DecodeErrors != count || st.SamplesConcealed != count*1024 {
				t.Fatalf("%d segments, stats %+v: want 1 segment, %d errors, %d samples concealed", len(segs), st, count, count*1024)
			}
			x := segs[0].samples
			if len(x) != len(clean[0].samples) {
				t.Errorf("%d samples, clean stream gives %d", len(x), len(clean[0].samples))
			}
			au := 1024 / 3 // access unit length at 16 kHz
			if r := rms(x[(first+2)*au : (first+count-1)*au]); r > 0.01 {
				t.Errorf("concealed span rms %.4f, want silence", r)
			}
			checkTone(t, x[(first+count+3)*au:], 1000, toneRMS)
			// After the gap the samples are where the clean decode has them.
			for i := (first + count + 3) * au; i < len(x); i++ {
				if math.Abs(float64(x[i]-clean[0].samples[i])) > 1e-3 {
					t.Fatalf("sample %d = %v, clean %v", i, x[i], clean[0].samples[i])
				}
			}
		})
	}
}
