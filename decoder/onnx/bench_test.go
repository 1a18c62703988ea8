package onnx

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"
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

// openDemo opens the embedded demo model (models/demo-en) on one thread.
// The demo benchmarks read every size from its contract, so they measure
// whatever model is committed there.
func openDemo(b *testing.B) *Model {
	b.Helper()
	bu, err := OpenBundle(filepath.Join(repoRoot, "models", "demo-en"))
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewModel(bu, Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// demoWindows returns n feature windows of log-mel-like values.
func demoWindows(c Contract, n int) []float32 {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*c.ChunkFrames*c.FeatureDim)
	for i := range x {
		x[i] = -12 + 16*rng.Float32()
	}
	return x
}

// BenchmarkDemoModelRTF is the real-time factor of the demo model alone on
// one thread, one stream per call: seconds of compute per second of audio,
// the time of one call over its ChunkShift × 10 ms of audio.
func BenchmarkDemoModelRTF(b *testing.B) {
	m := openDemo(b)
	c := m.Contract()
	x := demoWindows(c, 1)
	st := []*StreamState{m.NewStreamState()}
	if _, err := m.Run(x, st); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Run(x, st); err != nil {
			b.Fatal(err)
		}
	}
	perCall := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perCall/(float64(c.ChunkShift)*0.010), "rtf")
}

// BenchmarkDemoModelBatch is the per-stream cost of one demo model call on
// one thread at several batch sizes. Each op is one call for the batch
// (ns/op is its time) followed by the same n chunks as n one-stream calls,
// timed apart, so both see the same machine load: ns/stream-chunk is the
// batched call's time over n, solo-ns/stream-chunk the one-stream calls'
// mean, speedup their ratio and rtf/stream the batched cost over the chunk's
// ChunkShift × 10 ms of audio.
func BenchmarkDemoModelBatch(b *testing.B) {
	m := openDemo(b)
	c := m.Contract()
	for _, n := range []int{1, 2, 4, 8, 16, 32} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			x := demoWindows(c, n)
			w := c.ChunkFrames * c.FeatureDim
			batched := make([]*StreamState, n)
			solo := make([]*StreamState, n)
			for i := range batched {
				batched[i], solo[i] = m.NewStreamState(), m.NewStreamState()
			}
			if _, err := m.Run(x, batched); err != nil {
				b.Fatal(err)
			}
			var tBatch, tSolo time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := m.Run(x, batched); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				for k := range solo {
					if _, err := m.Run(x[k*w:(k+1)*w], solo[k:k+1]); err != nil {
						b.Fatal(err)
					}
				}
				tBatch, tSolo = tBatch+t1.Sub(t0), tSolo+time.Since(t1)
			}
			chunks := float64(b.N * n)
			per, perSolo := float64(tBatch.Nanoseconds())/chunks, float64(tSolo.Nanoseconds())/chunks
			b.ReportMetric(float64(tBatch.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(per, "ns/stream-chunk")
			b.ReportMetric(perSolo, "solo-ns/stream-chunk")
			b.ReportMetric(perSolo/per, "speedup")
			b.ReportMetric(per/(float64(c.ChunkShift)*10e6), "rtf/stream")
		})
	}
}

// BenchmarkDemoScheduler runs n streamers, each on its own goroutine and
// always ready, through a Scheduler on the demo model (one thread). One op is
// one window fed to every streamer. ns/stream-chunk is the wall time per
// stream chunk, model-ns/stream-chunk the part spent in the model calls
// (from OnBatch), and overhead-% what the rest of the path (gathering,
// stacking, hand-over, goroutine wake-ups and the streamers' CTC search)
// adds to the model time.
func BenchmarkDemoScheduler(b *testing.B) {
	m := openDemo(b)
	c := m.Contract()
	window := demoWindows(c, 1)
	for _, n := range []int{1, 8, 16, 32} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			warm := make([]*StreamState, n) // creates the batch's tensors
			for i := range warm {
				warm[i] = m.NewStreamState()
			}
			if _, err := m.Run(demoWindows(c, n), warm); err != nil {
				b.Fatal(err)
			}
			var model time.Duration // written by the scheduler goroutine only
			s := NewScheduler(m, SchedulerOptions{MaxBatch: n, Wait: time.Second,
				OnBatch: func(_ int, d time.Duration) { model += d }})
			defer s.Close()
			sts := make([]*Streamer, n)
			for i := range sts {
				var err error
				if sts[i], err = s.NewStreamer(0); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, st := range sts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < b.N; i++ {
						if err := st.Accept(window); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			s.Close() // every OnBatch has returned
			st := s.Stats()
			per := float64(b.Elapsed().Nanoseconds()) / float64(st.Streams)
			modelPer := float64(model.Nanoseconds()) / float64(st.Streams)
			b.ReportMetric(per, "ns/stream-chunk")
			b.ReportMetric(modelPer, "model-ns/stream-chunk")
			b.ReportMetric(100*(per-modelPer)/modelPer, "overhead-%")
			b.ReportMetric(float64(st.Streams)/float64(st.Calls), "mean-batch")
		})
	}
}
