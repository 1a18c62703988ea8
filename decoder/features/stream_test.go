package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// testSignal returns n samples of tones plus noise from seed.
func testSignal(n int, seed int64) []float32 {
	r := rand.New(rand.NewPCG(uint64(seed), 42))
	x := make([]float32, n)
	for i := range x {
		t := float64(i) / 16000
		v := 0.3*math.Sin(2*math.Pi*300*t) + 0.1*math.Sin(2*math.Pi*2700*t+1) + 0.05*(r.Float64()*2-1)
		x[i] = float32(v)
	}
	return x
}

func TestStreamingFrameCounts(t *testing.T) {
	// While streaming, frame f is ready when 160f + 280 ≤ samples received;
	// after InputFinished there are round(samples/160) = (samples+80)/160.
	for _, total := range []int{0, 79, 80, 279, 280, 281, 439, 440, 1600, 1679, 1680, 2345} {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			e, err := New(KaldiOptions(80))
			if err != nil {
				t.Fatal(err)
			}
			x := testSignal(total, 3)
			for n := 1; n <= total; n++ {
				if err := e.AcceptSamples(x[n-1 : n]); err != nil {
					t.Fatal(err)
				}
				want := 0
				for 160*want+280 <= n {
					want++
				}
				if got := e.NumFramesReady(); got != want {
					t.Fatalf("after %d samples: %d frames ready, want %d", n, got, want)
				}
			}
			e.InputFinished()
			if got, want := e.NumFramesReady(), (total+80)/160; got != want {
				t.Fatalf("after InputFinished: %d frames, want %d", got, want)
			}
			if got := e.Pending(); got != e.NumFramesReady() {
				t.Fatalf("pending %d, ready %d", got, e.NumFramesReady())
			}
			if e.SamplesReceived() != int64(total) {
				t.Fatalf("SamplesReceived %d, want %d", e.SamplesReceived(), total)
			}
		})
	}
}

func TestStreamingMatchesOneShot(t *testing.T) {
	x := testSignal(16000*3+77, 9)
	for _, opts := range []Options{KaldiOptions(80), NeMoOptions(80), NeMoOptions(128)} {
		want, _, err := Compute(opts, x)
		if err != nil {
			t.Fatal(err)
		}
		for _, sizes := range [][]int{{1}, {2, 3}, {159}, {160}, {161}, {399, 401}, {1000}, {16000}, {100000}} {
			if got := streamed(t, opts, x, sizes); !equalBits(got, want) {
				t.Errorf("%v/%v: pieces %v differ from one-shot", opts.Window, opts.NumBins, sizes)
			}
		}
	}
}

func TestPopFramesMax(t *testing.T) {
	e, err := New(KaldiOptions(80))
	if err != nil {
		t.Fatal(err)
	}
	x := testSignal(5000, 1)
	all, n, err := Compute(KaldiOptions(80), x)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AcceptSamples(x); err != nil {
		t.Fatal(err)
	}
	e.InputFinished()
	var got []float32
	for _, max := range []int{0, 1, 2, 5, 1000} {
		var k int
		got, k = e.PopFrames(got, max)
		if want := min(max, n-(len(got)/80-k)); k != want {
			t.Fatalf("PopFrames(max %d) gave %d frames, want %d", max, k, want)
		}
	}
	if !equalBits(got, all) {
		t.Fatal("frames popped in batches differ from Compute")
	}
	if e.Pending() != 0 {
		t.Fatalf("%d frames still pending", e.Pending())
	}
	if _, k := e.PopFrames(nil, -1); k != 0 {
		t.Fatalf("PopFrames on empty queue gave %d frames", k)
	}
}

func TestFinishAndReset(t *testing.T) {
	e, err := New(NeMoOptions(128))
	if err != nil {
		t.Fatal(err)
	}
	x := testSignal(3333, 5)
	run := func() []float32 {
		if err := e.AcceptSamples(x); err != nil {
			t.Fatal(err)
		}
		e.InputFinished()
		e.InputFinished() // idempotent
		if !e.Finished() {
			t.Fatal("Finished() false after InputFinished")
		}
		if err := e.AcceptSamples(x[:10]); !errors.Is(err, ErrInputFinished) {
			t.Fatalf("AcceptSamples after InputFinished: %v, want ErrInputFinished", err)
		}
		out, _ := e.PopFrames(nil, -1)
		return out
	}
	first := run()
	e.Reset()
	if e.NumFramesReady() != 0 || e.Pending() != 0 || e.Finished() || e.SamplesReceived() != 0 {
		t.Fatal("Reset left state behind")
	}
	if second := run(); !equalBits(first, second) {
		t.Fatal("second stream after Reset differs from the first")
	}
	// Reset in the middle of a stream with pending frames.
	e.Reset()
	if err := e.AcceptSamples(testSignal(999, 6)); err != nil {
		t.Fatal(err)
	}
	e.Reset()
	if third := run(); !equalBits(first, third) {
		t.Fatal("stream after a mid-stream Reset differs")
	}
}

func TestNonFiniteSamplesAreZeroed(t *testing.T) {
	x := testSignal(2000, 8)
	clean := append([]float32(nil), x...)
	for i, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		x[500+300*i] = v
		clean[500+300*i] = 0
	}
	got, _, err := Compute(KaldiOptions(80), x)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := Compute(KaldiOptions(80), clean)
	if err != nil {
		t.Fatal(err)
	}
	if !equalBits(got, want) {
		t.Fatal("non-finite samples were not treated as zero")
	}
	for i, v := range got {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("value %d is %v", i, v)
		}
	}
}

func TestSilenceIsFloor(t *testing.T) {
	for _, opts := range []Options{KaldiOptions(80), NeMoOptions(80)} {
		got, n, err := Compute(opts, make([]float32, 4000))
		if err != nil {
			t.Fatal(err)
		}
		if n != 25 {
			t.Fatalf("%d frames, want 25", n)
		}
		floor := float32(math.Log(fltEpsilon))
		for i, v := range got {
			if v != floor {
				t.Fatalf("value %d = %v, want log(FLT_EPSILON) = %v", i, v, floor)
			}
		}
	}
}

func TestBoundedMemory(t *testing.T) {
	// Ten minutes in 20 ms pieces: the sample buffer never holds more than
	// one frame plus one piece, and the output queue stays small.
	e, err := New(KaldiOptions(80))
	if err != nil {
		t.Fatal(err)
	}
	piece := testSignal(320, 2)
	var dst []float32
	maxBuf, maxOut := 0, 0
	for range 10 * 60 * 50 {
		if err := e.AcceptSamples(piece); err != nil {
			t.Fatal(err)
		}
		dst, _ = e.PopFrames(dst[:0], -1)
		maxBuf = max(maxBuf, cap(e.buf))
		maxOut = max(maxOut, cap(e.out))
	}
	if maxBuf > 2*(400+320) {
		t.Errorf("sample buffer grew to %d samples", maxBuf)
	}
	if maxOut > 8*80 {
		t.Errorf("output queue grew to %d values", maxOut)
	}
	if got, want := e.NumFramesReady(), (10*60*16000-280)/160+1; got != want {
		t.Errorf("%d frames after 10 min, want %d", got, want)
	}

	// A huge piece at once does not pin its storage afterwards.
	e.Reset()
	if err := e.AcceptSamples(make([]float32, 16000*60)); err != nil {
		t.Fatal(err)
	}
	_ = e.AcceptSamples(piece)
	if c := cap(e.buf); c > 8*400 {
		t.Errorf("after a one-minute piece the sample buffer keeps capacity %d", c)
	}
}

func TestOptionsValidation(t *testing.T) {
	mod := func(f func(*Options)) Options {
		o := KaldiOptions(80)
		f(&o)
		return o
	}
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"kaldi 80", KaldiOptions(80), true},
		{"nemo 80", NeMoOptions(80), true},
		{"nemo 128", NeMoOptions(128), true},
		{"zero options", Options{}, false},
		{"two bins", KaldiOptions(2), false},
		{"too many bins", KaldiOptions(300), false},
		{"no sample rate", mod(func(o *Options) { o.SampleRate = 0 }), false},
		{"frame length 1", mod(func(o *Options) { o.FrameLength = 1 }), false},
		{"shift 0", mod(func(o *Options) { o.FrameShift = 0 }), false},
		{"shift > length", mod(func(o *Options) { o.FrameShift = 401 }), false},
		{"preemphasis > 1", mod(func(o *Options) { o.Preemphasis = 1.5 }), false},
		{"preemphasis NaN", mod(func(o *Options) { o.Preemphasis = math.NaN() }), false},
		{"no window", mod(func(o *Options) { o.Window = 0 }), false},
		{"no mel scale", mod(func(o *Options) { o.Mel = 0 }), false},
		{"slaney norm on kaldi mel", mod(func(o *Options) { o.SlaneyNorm = true }), false},
		{"high above nyquist", mod(func(o *Options) { o.HighFreq = 9000 }), false},
		{"low above high", mod(func(o *Options) { o.LowFreq = 7700 }), false},
		{"negative low", mod(func(o *Options) { o.LowFreq = -1 }), false},
		{"no preemphasis", mod(func(o *Options) { o.Preemphasis = 0 }), true},
		{"8 kHz", mod(func(o *Options) { o.SampleRate = 8000; o.FrameLength = 200; o.FrameShift = 80; o.NumBins = 23 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.opts)
			if tt.ok {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if e.Dim() != tt.opts.NumBins || e.Options() != tt.opts {
					t.Fatalf("Dim %d / Options %+v do not reflect the options", e.Dim(), e.Options())
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("New: %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestFFTSize(t *testing.T) {
	for _, tt := range []struct{ length, want int }{{2, 2}, {3, 4}, {400, 512}, {512, 512}, {513, 1024}} {
		if got := (Options{FrameLength: tt.length}).FFTSize(); got != tt.want {
			t.Errorf("FFTSize(%d) = %d, want %d", tt.length, got, tt.want)
		}
	}
}

// FuzzStreaming feeds random audio in random pieces and checks the frames
// equal a one-shot computation bit for bit. The first byte picks the
// feature type, the next 8 bytes the piece sizes, the rest are int16
// samples.
func FuzzStreaming(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x20, 0x30})
	f.Add(make([]byte, 2000))
	seed := make([]byte, 9+2*1700)
	for i := range seed {
		seed[i] = byte(i*37 + i/7)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 9 {
			return
		}
		opts := KaldiOptions(80)
		if data[0]&1 == 1 {
			opts = NeMoOptions(128)
		}
		sizes := make([]int, 8)
		for i := range sizes {
			sizes[i] = 1 + int(data[1+i])*3
		}
		pcm := data[9:]
		x := make([]float32, len(pcm)/2)
		for i := range x {
			x[i] = float32(int16(binary.LittleEndian.Uint16(pcm[2*i:]))) / 32768
		}
		want, n, err := Compute(opts, x)
		if err != nil {
			t.Fatal(err)
		}
		if n != (len(x)+80)/160 {
			t.Fatalf("%d frames for %d samples", n, len(x))
		}
		if got := streamed(t, opts, x, sizes); !equalBits(got, want) {
			t.Fatalf("streaming in pieces %v differs from one-shot", sizes)
		}
		for i, v := range want {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("value %d is %v", i, v)
			}
		}
	})
}

func benchmarkFbank(b *testing.B, opts Options) {
	const seconds = 10
	x := testSignal(seconds*16000, 11)
	e, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		e.Reset()
		for i := 0; i < len(x); i += 1600 { // 100 ms pieces
			if err := e.AcceptSamples(x[i : i+1600]); err != nil {
				b.Fatal(err)
			}
			dst, _ = e.PopFrames(dst[:0], -1)
		}
		e.InputFinished()
		dst, _ = e.PopFrames(dst[:0], -1)
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(seconds*b.N)/elapsed, "x-realtime")
	b.ReportMetric(elapsed/float64(seconds*b.N), "RTF")
	b.ReportMetric(elapsed*1e9/float64(b.N*seconds*100), "ns/frame")
}

// BenchmarkKaldiFbank measures the 80-bin Kaldi fbank on 10 s of audio fed
// in 100 ms pieces; x-realtime is audio seconds per wall second.
func BenchmarkKaldiFbank(b *testing.B) { benchmarkFbank(b, KaldiOptions(80)) }

// BenchmarkNeMoFbank128 is the same for the 128-bin NeMo variant.
func BenchmarkNeMoFbank128(b *testing.B) { benchmarkFbank(b, NeMoOptions(128)) }
