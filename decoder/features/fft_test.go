package features

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestRealFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{4, 8, 16, 64, 512, 1024} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(n), 1))
			x := make([]float64, n)
			for i := range x {
				x[i] = r.Float64()*2 - 1
			}
			f := newRealFFT(n)
			re := make([]float64, n/2+1)
			im := make([]float64, n/2+1)
			pw := make([]float64, n/2+1)
			f.spectrum(x, re, im)
			f.power(x, pw)
			for k := 0; k <= n/2; k++ {
				var wr, wi float64
				for i, v := range x {
					a := -2 * math.Pi * float64(k*i%n) / float64(n)
					wr += v * math.Cos(a)
					wi += v * math.Sin(a)
				}
				if math.Abs(re[k]-wr) > 1e-9 || math.Abs(im[k]-wi) > 1e-9 {
					t.Fatalf("bin %d: got %g%+gi, want %g%+gi", k, re[k], im[k], wr, wi)
				}
				if p := wr*wr + wi*wi; math.Abs(pw[k]-p) > 1e-9*math.Max(1, p) {
					t.Fatalf("power bin %d: got %g, want %g", k, pw[k], p)
				}
			}
		})
	}
}

func TestRealFFTRejectsBadSize(t *testing.T) {
	for _, n := range []int{0, 2, 3, 6, 500} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("newRealFFT(%d) did not panic", n)
				}
			}()
			newRealFFT(n)
		}()
	}
}
