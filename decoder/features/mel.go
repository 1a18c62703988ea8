package features

import (
	"fmt"
	"math"
)

// melBank is a triangular filterbank stored sparsely: filter b covers power
// spectrum bins first[b] … first[b]+len(weights of b)−1.
type melBank struct {
	first  []int     // first FFT bin of each filter
	bounds []int     // filter b's weights are weights[bounds[b]:bounds[b+1]]
	w      []float64 // all nonzero weights, filter after filter
}

// kaldiMel is Kaldi's (HTK's) mel scale.
func kaldiMel(f float64) float64 { return 1127 * math.Log(1+f/700) }

// Slaney's mel scale as librosa implements it: linear below 1 kHz
// (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
const (
	slaneyHzPerMel = 200.0 / 3
	slaneyBreakHz  = 1000.0
	slaneyBreakMel = slaneyBreakHz / slaneyHzPerMel // 15
)

var slaneyLogStep = math.Log(6.4) / 27

func slaneyMel(f float64) float64 {
	if f < slaneyBreakHz {
		return f / slaneyHzPerMel
	}
	return slaneyBreakMel + math.Log(f/slaneyBreakHz)/slaneyLogStep
}

func slaneyHz(m float64) float64 {
	if m < slaneyBreakMel {
		return m * slaneyHzPerMel
	}
	return slaneyBreakHz * math.Exp(slaneyLogStep*(m-slaneyBreakMel))
}

// newMelBank builds the filterbank for opts over an FFT of size fftSize.
// It fails when a filter covers no FFT bin.
func newMelBank(opts Options, fftSize int) (*melBank, error) {
	nb := opts.NumBins
	binHz := float64(opts.SampleRate) / float64(fftSize)
	lo, hi := opts.LowFreq, opts.highFreq()
	mb := &melBank{first: make([]int, nb), bounds: make([]int, nb+1)}

	// weight returns filter b's weight at FFT bin i (0 outside the triangle).
	var weight func(b, i int) float64
	var numFFT int
	switch opts.Mel {
	case MelKaldi:
		// Triangles linear in mel; Kaldi uses bins 0 … N/2−1 only.
		numFFT = fftSize / 2
		mlo, mhi := kaldiMel(lo), kaldiMel(hi)
		delta := (mhi - mlo) / float64(nb+1)
		weight = func(b, i int) float64 {
			left := mlo + float64(b)*delta
			center := mlo + float64(b+1)*delta
			right := mlo + float64(b+2)*delta
			m := kaldiMel(binHz * float64(i))
			switch {
			case m <= left || m >= right:
				return 0
			case m <= center:
				return (m - left) / (center - left)
			default:
				return (right - m) / (right - center)
			}
		}
	case MelSlaney:
		// Edges evenly spaced in Slaney mel, triangles linear in Hz, bins
		// 0 … N/2 (librosa's layout, as kaldi-native-fbank's is_librosa).
		numFFT = fftSize/2 + 1
		mlo, mhi := slaneyMel(lo), slaneyMel(hi)
		delta := (mhi - mlo) / float64(nb+1)
		weight = func(b, i int) float64 {
			left := slaneyHz(mlo + float64(b)*delta)
			center := slaneyHz(mlo + float64(b+1)*delta)
			right := slaneyHz(mlo + float64(b+2)*delta)
			f := binHz * float64(i)
			var w float64
			switch {
			case f <= left || f >= right:
				return 0
			case f <= center:
				w = (f - left) / (center - left)
			default:
				w = (right - f) / (right - center)
			}
			if opts.SlaneyNorm {
				w *= 2 / (right - left)
			}
			return w
		}
	default:
		return nil, fmt.Errorf("%w: unknown mel scale %v", ErrInvalidOptions, opts.Mel)
	}

	for b := range nb {
		first := -1
		for i := range numFFT {
			w := weight(b, i)
			if w == 0 {
				if first >= 0 {
					break // past the triangle
				}
				continue
			}
			if first < 0 {
				first = i
			}
			mb.w = append(mb.w, w)
		}
		if first < 0 {
			return nil, fmt.Errorf("%w: mel bin %d of %d covers no FFT bin (too many bins for %d-point FFT?)",
				ErrInvalidOptions, b, nb, fftSize)
		}
		mb.first[b] = first
		mb.bounds[b+1] = len(mb.w)
	}
	return mb, nil
}

// apply writes log(max(filter·power, FLT_EPSILON)) for every filter to out.
func (mb *melBank) apply(power []float64, out []float32) {
	for b, first := range mb.first {
		w := mb.w[mb.bounds[b]:mb.bounds[b+1]]
		p := power[first : first+len(w)]
		var e float64
		for i, wi := range w {
			e += wi * p[i]
		}
		if !(e >= fltEpsilon) { // also catches NaN
			e = fltEpsilon
		}
		out[b] = float32(math.Log(e))
	}
}

// fltEpsilon is C's FLT_EPSILON, the floor Kaldi puts under mel energies.
const fltEpsilon = 1.1920928955078125e-07
