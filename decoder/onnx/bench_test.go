package onnx

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder/transducer"
)

// BenchmarkRun measures one model call of the tone model for a batch of
// streams; stream-chunk/s divided by 12.5 (chunks of 80 ms per second of
// audio) is how many real-time streams one core sustains on the model alone.
func BenchmarkRun(b *testing.B) {
	_, m := openTone(b)
	c := m.Contract()
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			x := noise(n*c.ChunkFrames*c.FeatureDim, 1, 2, -16, 20)
			benchRun(b, m, x, streamStates(m, n))
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "stream-chunks/s")
		})
	}
}

// benchRun times b.N calls of m.Run(x, states) after an untimed first one.
func benchRun(b *testing.B, m *Model, x []float32, states []*StreamState) {
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
}

// openDemo opens the embedded demo model (models/demo-en) on one thread, or
// the bundle directory that $SUBTITLED_BENCH_DEMO names (to compare another
// export of it in the same run). The demo benchmarks read every size from
// its contract, so they measure whatever model is committed there.
func openDemo(b *testing.B) *Model {
	b.Helper()
	dir := os.Getenv("SUBTITLED_BENCH_DEMO")
	if dir == "" {
		dir = filepath.Join(repoRoot, "models", "demo-en")
	}
	return openCTC(b, dir)
}

// noise returns n values uniform in [lo, lo+span) from a PCG(seed, stream).
func noise(n int, seed, stream uint64, lo, span float32) []float32 {
	rng := rand.New(rand.NewPCG(seed, stream))
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + span*rng.Float32()
	}
	return x
}

// demoWindows returns n feature windows of log-mel-like values.
func demoWindows(c Contract, n int) []float32 {
	return noise(n*c.ChunkFrames*c.FeatureDim, 3, 4, -12, 16)
}

// warmBatch makes one call for a batch of n streams, which creates the
// batch's tensors.
func warmBatch(b *testing.B, m *Model, n int) {
	if _, err := m.Run(demoWindows(m.Contract(), n), streamStates(m, n)); err != nil {
		b.Fatal(err)
	}
}

// parallelOps runs op b.N times on each of len(sts) goroutines, one per
// streamer, and waits for them; a failed op ends its goroutine.
func parallelOps[S any](b *testing.B, sts []S, op func(S) error) {
	var wg sync.WaitGroup
	for _, st := range sts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < b.N; i++ {
				if err := op(st); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkDemoModelRTF is the real-time factor of the demo model alone on
// one thread, one stream per call: seconds of compute per second of audio,
// the time of one call over its ChunkShift × 10 ms of audio.
func BenchmarkDemoModelRTF(b *testing.B) {
	m := openDemo(b)
	c := m.Contract()
	x := demoWindows(c, 1)
	benchRun(b, m, x, streamStates(m, 1))
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
			batched, solo := streamStates(m, n), streamStates(m, n)
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
// adds to the model time. own-% is the scheduler's own overhead
// (SchedulerStats.OwnTime: its goroutine's gathering, stacking and
// scattering, without ONNX Runtime's Run, the search and the wake-ups) as a
// percentage of the time in ONNX Runtime's Run (SchedulerStats.RunTime);
// own-ns/call and run-ns/call are the two per model call (reportOwn).
func BenchmarkDemoScheduler(b *testing.B) {
	m := openDemo(b)
	c := m.Contract()
	window := demoWindows(c, 1)
	for _, n := range []int{1, 8, 16, 32} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			warmBatch(b, m, n)
			var model time.Duration // written by the scheduler goroutine only
			s := NewScheduler(m, SchedulerOptions{MaxBatch: n, Wait: time.Second,
				OnBatch: func(_ int, d time.Duration) { model += d }})
			defer s.Close()
			sts := streamers(b, n, s.NewStreamer)
			b.ResetTimer()
			parallelOps(b, sts, func(st *Streamer) error { return st.Accept(window) })
			b.StopTimer()
			s.Close() // every OnBatch has returned
			st := s.Stats()
			per := float64(b.Elapsed().Nanoseconds()) / float64(st.Streams)
			modelPer := float64(model.Nanoseconds()) / float64(st.Streams)
			b.ReportMetric(per, "ns/stream-chunk")
			b.ReportMetric(modelPer, "model-ns/stream-chunk")
			b.ReportMetric(100*(per-modelPer)/modelPer, "overhead-%")
			b.ReportMetric(float64(st.Streams)/float64(st.Calls), "mean-batch")
			reportOwn(b, st)
		})
	}
}

// reportOwn reports a scheduler's own overhead: own-% (OwnTime over
// RunTime), wake-% (WakeTime over RunTime), own-ns/call and run-ns/call.
func reportOwn(b *testing.B, st SchedulerStats) {
	b.ReportMetric(100*float64(st.OwnTime)/float64(st.RunTime), "own-%")
	b.ReportMetric(100*float64(st.WakeTime)/float64(st.RunTime), "wake-%")
	b.ReportMetric(float64(st.OwnTime.Nanoseconds())/float64(st.Calls), "own-ns/call")
	b.ReportMetric(float64(st.RunTime.Nanoseconds())/float64(st.Calls), "run-ns/call")
}

// BenchmarkDemoSchedulerOwn isolates the scheduler's own overhead: n
// goroutines, each with a streamer and always ready, hand windows straight
// to the scheduler (no CTC search, so that nothing but the scheduler
// competes for the CPU while it works). One op is one window per stream.
// own-% is SchedulerStats.OwnTime over RunTime: the scheduler goroutine's
// gathering, stacking and scattering against ONNX Runtime's Run; wake-% is
// WakeTime, handing the results back, over RunTime. states=resident is the
// scheduler as it is (a stream's state stays in the batch's tensors between
// calls); states=copied copies every state in and out of the tensors on
// every call, for comparison.
func BenchmarkDemoSchedulerOwn(b *testing.B) {
	m := openDemo(b)
	c := m.Contract()
	window := demoWindows(c, 1)
	for _, bc := range []struct {
		n      int
		states string
	}{{1, "resident"}, {8, "resident"}, {32, "resident"}, {1, "copied"}, {8, "copied"}, {32, "copied"}} {
		n := bc.n
		b.Run(fmt.Sprintf("states=%s/batch=%d", bc.states, n), func(b *testing.B) {
			warmBatch(b, m, n)
			s := NewScheduler(m, SchedulerOptions{MaxBatch: n, Wait: time.Second})
			defer s.Close()
			sts := streamers(b, n, s.NewStreamer)
			for _, st := range sts {
				st.st.home.stay = bc.states == "resident"
			}
			b.ReportAllocs()
			b.ResetTimer()
			parallelOps(b, sts, func(st *Streamer) error { return st.run(window) })
			b.StopTimer()
			s.Close()
			st := s.Stats()
			b.ReportMetric(float64(st.Streams)/float64(st.Calls), "mean-batch")
			reportOwn(b, st)
		})
	}
}

// BenchmarkTransducerScheduler runs n always-ready streams of the
// zipformer2 transducer fixture (greedy search) through a
// TransducerScheduler. The fixture's encoder is tiny, so own-% (the
// scheduler's own time over the encoder's Run) is an upper bound for real
// models; search-% is the batched search (decoder and joiner calls) over
// the encoder's Run.
func BenchmarkTransducerScheduler(b *testing.B) {
	m := openFamily(b, FamilyZipformer2, transducer.Options{})
	p := m.Params()
	window := noise(p.ChunkShift*p.FeatureDim, 5, 6, -12, 16)
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := NewTransducerScheduler(m, SchedulerOptions{MaxBatch: n, Wait: time.Second})
			defer s.Close()
			sts := streamers(b, n, s.NewStreamer)
			for _, st := range sts {
				// Prime the look-ahead: every later window makes one call.
				if err := st.Accept(make([]float32, (p.ChunkFrames-p.ChunkShift)*p.FeatureDim)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			parallelOps(b, sts, func(st *TransducerStreamer) error { return st.Accept(window) })
			b.StopTimer()
			s.Close()
			st := s.Stats()
			b.ReportMetric(float64(st.Streams)/float64(st.Calls), "mean-batch")
			b.ReportMetric(100*float64(st.SearchTime)/float64(st.RunTime), "search-%")
			reportOwn(b, st)
		})
	}
}
