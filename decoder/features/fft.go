package features

import "math"

// realFFT computes the spectrum of a real sequence whose length n is a power
// of two (n ≥ 4) with one complex FFT of length n/2: the even samples form
// the real part and the odd samples the imaginary part, and the two half
// spectra are separated afterwards. All tables are precomputed; transforms
// do not allocate.
type realFFT struct {
	n    int
	half int
	rev  []int32   // bit reversal permutation of 0 … half−1
	twr  []float64 // twr[h+j], twi[h+j] = e^{−iπj/h} for the stage of span 2h
	twi  []float64
	wcos []float64 // cos(2πk/n), k ≤ half: twiddles of the split step
	wsin []float64 // sin(2πk/n)
	re   []float64 // complex work buffer
	im   []float64
}

func newRealFFT(n int) *realFFT {
	if n < 4 || n&(n-1) != 0 {
		panic("features: FFT size must be a power of two ≥ 4")
	}
	half := n / 2
	f := &realFFT{
		n:    n,
		half: half,
		rev:  make([]int32, half),
		twr:  make([]float64, half),
		twi:  make([]float64, half),
		wcos: make([]float64, half+1),
		wsin: make([]float64, half+1),
		re:   make([]float64, half),
		im:   make([]float64, half),
	}
	bits := 0
	for 1<<bits < half {
		bits++
	}
	for i := range half {
		r := 0
		for b := range bits {
			if i&(1<<b) != 0 {
				r |= 1 << (bits - 1 - b)
			}
		}
		f.rev[i] = int32(r)
	}
	for h := 1; h < half; h <<= 1 {
		for j := range h {
			a := math.Pi * float64(j) / float64(h)
			f.twr[h+j], f.twi[h+j] = math.Cos(a), -math.Sin(a)
		}
	}
	for k := 0; k <= half; k++ {
		a := 2 * math.Pi * float64(k) / float64(n)
		f.wcos[k], f.wsin[k] = math.Cos(a), math.Sin(a)
	}
	return f
}

// complexFFT transforms f.re/f.im in place (forward, e^{−2πi·jk/half}),
// expecting the input already in bit-reversed order. The stages are written
// over sub-slices so the compiler can drop most bounds checks.
func (f *realFFT) complexFFT() {
	re, im := f.re, f.im
	n := f.half
	im = im[:len(re)]
	for i := 0; i+1 < n; i += 2 { // span 2: twiddle 1
		ar, ai, br, bi := re[i], im[i], re[i+1], im[i+1]
		re[i], im[i], re[i+1], im[i+1] = ar+br, ai+bi, ar-br, ai-bi
	}
	for h := 2; h < n; h <<= 1 {
		twr, twi := f.twr[h:2*h], f.twi[h:2*h]
		for start := 0; start < n; start += 2 * h {
			r0, r1 := re[start:start+h], re[start+h:start+2*h]
			i0, i1 := im[start:start+h], im[start+h:start+2*h]
			r1, i0, i1 = r1[:len(r0)], i0[:len(r0)], i1[:len(r0)]
			wr, wi := twr[:len(r0)], twi[:len(r0)]
			for j := range r0 {
				tr := r1[j]*wr[j] - i1[j]*wi[j]
				ti := r1[j]*wi[j] + i1[j]*wr[j]
				r1[j], i1[j] = r0[j]-tr, i0[j]-ti
				r0[j] += tr
				i0[j] += ti
			}
		}
	}
}

// load packs x (length n) into the complex work buffer in bit-reversed order
// and runs the half-length FFT.
func (f *realFFT) load(x []float64) {
	x = x[:f.n]
	for i, r := range f.rev {
		f.re[r] = x[2*i]
		f.im[r] = x[2*i+1]
	}
	f.complexFFT()
}

// bin returns X[k] for 1 ≤ k < half from the packed spectrum Z:
// X[k] = E[k] + e^{−2πik/n}·O[k] with E[k] = (Z[k] + conj Z[half−k])/2 and
// O[k] = (Z[k] − conj Z[half−k])/(2i).
func (f *realFFT) bin(k int) (float64, float64) {
	ar, ai := f.re[k], f.im[k]
	cr, ci := f.re[f.half-k], f.im[f.half-k]
	er, ei := 0.5*(ar+cr), 0.5*(ai-ci)
	or, oi := 0.5*(ai+ci), -0.5*(ar-cr)
	c, s := f.wcos[k], f.wsin[k]
	return er + c*or + s*oi, ei + c*oi - s*or
}

// power writes |X[k]|² for k = 0 … n/2 into out (length ≥ n/2+1).
func (f *realFFT) power(x []float64, out []float64) {
	f.load(x)
	h := f.half
	out = out[:h+1]
	re, im := f.re[:h], f.im[:h]
	dc := re[0] + im[0]
	ny := re[0] - im[0]
	out[0] = dc * dc
	out[h] = ny * ny
	wc, ws := f.wcos[:h], f.wsin[:h]
	for k := 1; k < h; k++ {
		// Same arithmetic as bin, inlined.
		ar, ai := re[k], im[k]
		cr, ci := re[h-k], im[h-k]
		er, ei := 0.5*(ar+cr), 0.5*(ai-ci)
		or, oi := 0.5*(ai+ci), -0.5*(ar-cr)
		c, s := wc[k], ws[k]
		r, i := er+c*or+s*oi, ei+c*oi-s*or
		out[k] = r*r + i*i
	}
}

// spectrum writes X[k] for k = 0 … n/2 into re and im (tests use it).
func (f *realFFT) spectrum(x []float64, re, im []float64) {
	f.load(x)
	re[0], im[0] = f.re[0]+f.im[0], 0
	re[f.half], im[f.half] = f.re[0]-f.im[0], 0
	for k := 1; k < f.half; k++ {
		re[k], im[k] = f.bin(k)
	}
}
