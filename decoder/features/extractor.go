// Package features computes streaming log-mel filterbank features for the
// speech models: the Kaldi-compatible fbank of icefall / k2 models
// (KaldiOptions, MODEL-CONTRACT.md §3.1) and the variant sherpa-onnx feeds
// NeMo models (NeMoOptions, §3.2).
//
// Framing follows Kaldi with snip_edges=false: frame f covers samples
// [shift·f + shift/2 − length/2, … + length), samples before the start or
// after the end of the input are mirrored (−1 → 0, −2 → 1; n → n−1). While
// audio streams in, frame f is ready once its last sample has arrived
// (160f + 280 ≤ samples received, for 25 ms / 10 ms at 16 kHz); after
// InputFinished the total is round(samples/shift), the same count as Kaldi's
// and torchaudio's offline fbank, so the last frames use the reflected tail.
//
// Feeding audio in any split gives bit-identical frames. Only the samples
// that frames not yet computed can need are kept, so memory stays bounded
// over arbitrarily long streams.
package features

import "math"

// Extractor turns a stream of samples into feature frames. It is not safe
// for concurrent use; use one per audio stream.
type Extractor struct {
	opts    Options
	dim     int
	length  int // frame length in samples
	shift   int
	fftSize int
	window  []float64
	bank    *melBank
	fft     *realFFT
	frame   []float64 // fftSize, zero beyond length
	power   []float64 // fftSize/2+1

	buf      []float32 // samples [bufStart, received)
	bufStart int64
	received int64
	finished bool

	computed int       // frames computed since the start (or Reset)
	out      []float32 // computed frames not yet popped are out[outHead:]
	outHead  int
}

// New returns an extractor for opts.
func New(opts Options) (*Extractor, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	n := opts.FFTSize()
	bank, err := newMelBank(opts, n)
	if err != nil {
		return nil, err
	}
	e := &Extractor{
		opts:    opts,
		dim:     opts.NumBins,
		length:  opts.FrameLength,
		shift:   opts.FrameShift,
		fftSize: n,
		window:  make([]float64, opts.FrameLength),
		bank:    bank,
		fft:     newRealFFT(n),
		frame:   make([]float64, n),
		power:   make([]float64, n/2+1),
	}
	l := float64(opts.FrameLength)
	for i := range e.window {
		x := float64(i)
		switch opts.Window {
		case WindowPovey:
			e.window[i] = math.Pow(0.5-0.5*math.Cos(2*math.Pi*x/(l-1)), 0.85)
		case WindowHann:
			e.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*x/l)
		}
	}
	return e, nil
}

// Options returns the options the extractor was built with.
func (e *Extractor) Options() Options { return e.opts }

// Dim is the number of values per frame (the number of mel bins).
func (e *Extractor) Dim() int { return e.dim }

// firstSample is the index of frame f's first sample (negative for the
// first frames: they reach back before the start and are mirrored).
func (e *Extractor) firstSample(f int) int64 {
	return int64(e.shift)*int64(f) + int64(e.shift/2) - int64(e.length/2)
}

// AcceptSamples appends samples (floats in [-1, 1] at Options.SampleRate)
// and computes every frame that has become ready. Non-finite samples are
// replaced by 0 so that one bad sample cannot poison a model's state. It
// returns ErrInputFinished after InputFinished.
func (e *Extractor) AcceptSamples(samples []float32) error {
	if e.finished {
		return ErrInputFinished
	}
	if len(samples) == 0 {
		return nil
	}
	old := len(e.buf)
	e.buf = append(e.buf, samples...)
	for i, s := range e.buf[old:] {
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			e.buf[old+i] = 0
		}
	}
	e.received += int64(len(samples))
	for e.firstSample(e.computed)+int64(e.length) <= e.received {
		e.computeFrame(e.computed)
		e.computed++
	}
	e.trim()
	return nil
}

// InputFinished marks the end of the input and computes the remaining
// frames, round(samples/FrameShift) in all, mirroring the tail of the
// signal. Further calls do nothing until Reset.
func (e *Extractor) InputFinished() {
	if e.finished {
		return
	}
	e.finished = true
	total := int((e.received + int64(e.shift/2)) / int64(e.shift))
	for e.computed < total {
		e.computeFrame(e.computed)
		e.computed++
	}
	e.buf = e.buf[:0]
	e.bufStart = e.received
}

// Finished reports whether InputFinished has been called since the start or
// the last Reset.
func (e *Extractor) Finished() bool { return e.finished }

// NumFramesReady is the number of frames computed since the start or the last
// Reset, including frames already popped (Kaldi's NumFramesReady).
func (e *Extractor) NumFramesReady() int { return e.computed }

// Pending is the number of computed frames not yet popped.
func (e *Extractor) Pending() int { return (len(e.out) - e.outHead) / e.dim }

// SamplesReceived is the number of samples accepted since the start or the
// last Reset.
func (e *Extractor) SamplesReceived() int64 { return e.received }

// PopFrames appends up to max pending frames (all of them when max < 0) to
// dst as rows of Dim values and returns the extended slice and the number of
// frames appended. Reusing dst across calls avoids allocation.
func (e *Extractor) PopFrames(dst []float32, max int) ([]float32, int) {
	n := e.Pending()
	if max >= 0 && max < n {
		n = max
	}
	end := e.outHead + n*e.dim
	dst = append(dst, e.out[e.outHead:end]...)
	e.outHead = end
	if e.outHead == len(e.out) {
		e.out, e.outHead = e.out[:0], 0
	}
	return dst, n
}

// Reset forgets all input and pending frames so the extractor can start a
// new stream. Buffers are kept for reuse.
func (e *Extractor) Reset() {
	e.buf = e.buf[:0]
	e.bufStart, e.received = 0, 0
	e.finished = false
	e.computed = 0
	e.out, e.outHead = e.out[:0], 0
}

// trim drops the samples no future frame can use: everything before the
// first sample of the next frame. Reflection at the start only reads
// samples 0 … length/2, and at the end only samples after the frame's own
// start, so nothing before that point is ever read again.
func (e *Extractor) trim() {
	keep := e.firstSample(e.computed)
	if keep <= e.bufStart {
		return
	}
	if keep > e.received {
		keep = e.received
	}
	drop := int(keep - e.bufStart)
	rest := len(e.buf) - drop
	if cap(e.buf) > 1<<16 && rest < cap(e.buf)/4 {
		// A large piece arrived at once: do not hold on to its storage.
		nb := make([]float32, rest, max(2*rest, 4*e.length))
		copy(nb, e.buf[drop:])
		e.buf = nb
	} else {
		e.buf = e.buf[:copy(e.buf, e.buf[drop:])]
	}
	e.bufStart = keep
	if e.outHead > 0 && e.outHead >= len(e.out)/2 {
		// Keep the pending frames at the front so out does not creep.
		e.out = e.out[:copy(e.out, e.out[e.outHead:])]
		e.outHead = 0
	}
}

// computeFrame appends frame f to the pending output. All samples it reads
// are in buf: either the frame lies inside the received signal, or it
// touches an edge whose mirror images lie inside the frame's own span or,
// for the first frames, in the first length/2 samples, which are kept until
// those frames are done.
func (e *Extractor) computeFrame(f int) {
	x := e.frame[:e.length]
	start := e.firstSample(f)
	if start >= e.bufStart && start+int64(e.length) <= e.received {
		src := e.buf[start-e.bufStart : start-e.bufStart+int64(e.length)]
		for i, s := range src {
			x[i] = float64(s)
		}
	} else {
		n := e.received
		for i := range x {
			s := start + int64(i)
			for s < 0 || s >= n {
				if s < 0 {
					s = -s - 1
				} else {
					s = 2*n - 1 - s
				}
			}
			x[i] = float64(e.buf[s-e.bufStart])
		}
	}

	// DC removal, pre-emphasis (x[i] −= c·x[i−1] for i = n−1 … 1, then
	// x[0] −= c·x[0]) and the window, fused into one forward pass that keeps
	// the unmodified previous sample.
	var mean float64
	if e.opts.RemoveDC {
		var sum float64
		for _, v := range x {
			sum += v
		}
		mean = sum / float64(len(x))
	}
	c := e.opts.Preemphasis
	w := e.window[:len(x)]
	prev := x[0] - mean
	x[0] = (prev - c*prev) * w[0]
	for i := 1; i < len(x); i++ {
		cur := x[i] - mean
		x[i] = (cur - c*prev) * w[i]
		prev = cur
	}
	// e.frame[length:] stays zero: it is the FFT's zero padding.
	e.fft.power(e.frame, e.power)

	old := len(e.out)
	if cap(e.out)-old < e.dim {
		e.out = append(e.out, make([]float32, e.dim)...)
	} else {
		e.out = e.out[:old+e.dim]
	}
	e.bank.apply(e.power, e.out[old:])
}

// Compute is a convenience for whole signals: it returns all frames of
// samples, row-major, as an offline Kaldi fbank with snip_edges=false would.
func Compute(opts Options, samples []float32) ([]float32, int, error) {
	e, err := New(opts)
	if err != nil {
		return nil, 0, err
	}
	if err := e.AcceptSamples(samples); err != nil {
		return nil, 0, err
	}
	e.InputFinished()
	out, n := e.PopFrames(nil, -1)
	return out, n, nil
}
