package features

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidOptions is wrapped by the errors New returns for options that
// cannot describe a filterbank.
var ErrInvalidOptions = errors.New("features: invalid options")

// ErrInputFinished is returned by AcceptSamples after InputFinished, until
// Reset.
var ErrInputFinished = errors.New("features: input already finished")

// WindowType selects the analysis window applied to each frame.
type WindowType int

const (
	// WindowPovey is Kaldi's "povey" window, (0.5 − 0.5·cos(2πi/(N−1)))^0.85.
	WindowPovey WindowType = iota + 1
	// WindowHann is the periodic Hann window, 0.5 − 0.5·cos(2πi/N), as
	// kaldi-native-fbank's "hann" (what sherpa-onnx uses for NeMo models).
	WindowHann
)

// String returns the Kaldi name of the window.
func (w WindowType) String() string {
	switch w {
	case WindowPovey:
		return "povey"
	case WindowHann:
		return "hann"
	}
	return fmt.Sprintf("WindowType(%d)", int(w))
}

// MelScale selects how the triangular filters are laid out.
type MelScale int

const (
	// MelKaldi is Kaldi's filterbank: mel(f) = 1127·ln(1 + f/700), triangles
	// linear in mel, FFT bins 0 … N/2−1 (Nyquist excluded).
	MelKaldi MelScale = iota + 1
	// MelSlaney is librosa's filterbank: the Slaney mel scale (linear below
	// 1 kHz, logarithmic above), triangles linear in Hz, FFT bins 0 … N/2.
	MelSlaney
)

// String returns a short name of the scale.
func (m MelScale) String() string {
	switch m {
	case MelKaldi:
		return "kaldi"
	case MelSlaney:
		return "slaney"
	}
	return fmt.Sprintf("MelScale(%d)", int(m))
}

// Options describes a log-mel filterbank with Kaldi-style framing
// (snip_edges=false, reflection at the edges, no dither, no energy
// coefficient). The FFT size is FrameLength rounded up to a power of two.
// Use KaldiOptions or NeMoOptions rather than filling it by hand.
type Options struct {
	SampleRate  int        // input sample rate in Hz; samples are floats in [-1, 1]
	FrameLength int        // window length in samples (400 = 25 ms at 16 kHz)
	FrameShift  int        // hop in samples (160 = 10 ms at 16 kHz)
	NumBins     int        // mel bins per frame
	LowFreq     float64    // lowest filter edge in Hz
	HighFreq    float64    // highest filter edge in Hz; ≤ 0 means Nyquist + HighFreq
	Preemphasis float64    // pre-emphasis coefficient in [0, 1]; 0 disables it
	RemoveDC    bool       // subtract each frame's mean before pre-emphasis
	Window      WindowType // analysis window
	Mel         MelScale   // filter layout
	SlaneyNorm  bool       // scale each filter by 2/(right−left) in Hz (MelSlaney only)
}

// KaldiOptions returns the Kaldi-compatible fbank that icefall / k2 models
// expect, as sherpa-onnx configures kaldi-native-fbank (MODEL-CONTRACT.md
// §3.1): 16 kHz, 25 ms / 10 ms frames, 512-point FFT, DC removal,
// pre-emphasis 0.97, povey window, power spectrum, Kaldi mel 20 … 7600 Hz,
// natural log floored at FLT_EPSILON. bins is normally 80.
func KaldiOptions(bins int) Options {
	return Options{
		SampleRate:  16000,
		FrameLength: 400,
		FrameShift:  160,
		NumBins:     bins,
		LowFreq:     20,
		HighFreq:    -400,
		Preemphasis: 0.97,
		RemoveDC:    true,
		Window:      WindowPovey,
		Mel:         MelKaldi,
	}
}

// NeMoOptions returns the features sherpa-onnx computes for NeMo
// FastConformer models (MODEL-CONTRACT.md §3.2): the Kaldi framing of
// KaldiOptions with a periodic Hann window, no DC removal, and a Slaney mel
// filterbank over 0 … 8000 Hz with Slaney area normalisation. bins is the
// encoder's feature dimension (80 or 128).
func NeMoOptions(bins int) Options {
	return Options{
		SampleRate:  16000,
		FrameLength: 400,
		FrameShift:  160,
		NumBins:     bins,
		LowFreq:     0,
		HighFreq:    8000,
		Preemphasis: 0.97,
		RemoveDC:    false,
		Window:      WindowHann,
		Mel:         MelSlaney,
		SlaneyNorm:  true,
	}
}

// FFTSize is the FFT length used for opts: FrameLength rounded up to a power
// of two.
func (o Options) FFTSize() int {
	n := 1
	for n < o.FrameLength {
		n <<= 1
	}
	return n
}

// highFreq resolves a non-positive HighFreq against the Nyquist frequency.
func (o Options) highFreq() float64 {
	if o.HighFreq > 0 {
		return o.HighFreq
	}
	return float64(o.SampleRate)/2 + o.HighFreq
}

// Validate reports whether o describes a usable filterbank. Empty filters
// (too many bins for the FFT resolution) are reported by New.
func (o Options) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
	}
	switch {
	case o.SampleRate <= 0:
		return bad("sample rate %d", o.SampleRate)
	case o.FrameLength < 2 || o.FrameLength > 1<<16:
		return bad("frame length %d not in [2, 65536]", o.FrameLength)
	case o.FrameShift <= 0 || o.FrameShift > o.FrameLength:
		return bad("frame shift %d not in [1, frame length %d]", o.FrameShift, o.FrameLength)
	case o.NumBins < 3:
		return bad("%d mel bins, need at least 3", o.NumBins)
	case math.IsNaN(o.Preemphasis) || o.Preemphasis < 0 || o.Preemphasis > 1:
		return bad("pre-emphasis %v not in [0, 1]", o.Preemphasis)
	case o.Window != WindowPovey && o.Window != WindowHann:
		return bad("unknown window %v", o.Window)
	case o.Mel != MelKaldi && o.Mel != MelSlaney:
		return bad("unknown mel scale %v", o.Mel)
	case o.SlaneyNorm && o.Mel != MelSlaney:
		return bad("Slaney normalisation needs the Slaney mel scale")
	}
	nyquist := float64(o.SampleRate) / 2
	lo, hi := o.LowFreq, o.highFreq()
	if !(lo >= 0 && lo < nyquist && hi > 0 && hi <= nyquist && lo < hi) {
		return bad("mel range %v … %v Hz outside 0 … %v Hz or empty", lo, hi, nyquist)
	}
	return nil
}
