package onnx

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkRun measures one model call of the tone model for a batch of
// streams; stream-chunk/s divided by 12.5 (chunks of 80 ms per second of
// audio) is how many real-time streams one core sustains on the model alone.
func BenchmarkRun(b *testing.B) {
	_, m := openTone(b)
	c := m.Contract()
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, n*c.ChunkFrames*c.FeatureDim)
			for i := range x {
				x[i] = -16 + 20*rng.Float32()
			}
			states := make([]*StreamState, n)
			for i := range states {
				states[i] = m.NewStreamState()
			}
			if _, err := m.Run(x, states); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Run(x, states); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "stream-chunks/s")
		})
	}
}
