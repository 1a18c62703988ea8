package features

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The reference features in testdata/ come from tools/fbankref/fbankref.py
// (torchaudio.compliance.kaldi.fbank for the Kaldi fbank; numpy plus
// torchaudio.functional.melscale_fbanks for the NeMo variant, both in
// float64). Regenerate them with
//
//	/usr/bin/python3 tools/fbankref/fbankref.py
//
// Frame counts: torchaudio's snip_edges=False framing gives
// (samples + 80) / 160 = round(samples/160) frames, which is exactly the
// count this package reaches after InputFinished, so every reference frame is
// compared. Before InputFinished a streaming extractor has fewer frames: the
// last ones (those with 160f + 280 > samples) need the mirrored tail and only
// appear at InputFinished; TestStreamingFrameCounts checks that rule.

// refTolerance is the largest allowed difference from the reference, in
// natural-log units.
const refTolerance = 1e-3

type refIndex struct {
	Generator  string `json:"generator"`
	Torchaudio string `json:"torchaudio"`
	SampleRate int    `json:"sample_rate"`
	Signals    []struct {
		Name     string `json:"name"`
		Samples  int    `json:"samples"`
		Frames   int    `json:"frames"`
		PCM      string `json:"pcm"`
		Features map[string]struct {
			File string `json:"file"`
			Bins int    `json:"bins"`
		} `json:"features"`
	} `json:"signals"`
}

func readF32(t testing.TB, name string) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading reference data (regenerate with /usr/bin/python3 tools/fbankref/fbankref.py): %v", err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("%s: %d bytes is not a whole number of float32", name, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func loadIndex(t testing.TB) refIndex {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "index.json"))
	if err != nil {
		t.Fatalf("reading reference index (regenerate with /usr/bin/python3 tools/fbankref/fbankref.py): %v", err)
	}
	var idx refIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("parsing testdata/index.json: %v", err)
	}
	if len(idx.Signals) < 5 {
		t.Fatalf("testdata/index.json lists %d signals, want at least 5", len(idx.Signals))
	}
	return idx
}

// streamed feeds samples in pieces whose sizes cycle through sizes, popping
// frames as they appear, and returns all frames.
func streamed(t testing.TB, opts Options, samples []float32, sizes []int) []float32 {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []float32
	for i, k := 0, 0; i < len(samples); k++ {
		n := min(sizes[k%len(sizes)], len(samples)-i)
		if err := e.AcceptSamples(samples[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
		out, _ = e.PopFrames(out, -1)
	}
	e.InputFinished()
	out, _ = e.PopFrames(out, -1)
	return out
}

func maxAbsDiff(a, b []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				return math.Inf(1), i
			}
		}
	}
	return worst, at
}

func TestMatchesReference(t *testing.T) {
	idx := loadIndex(t)
	variants := []struct {
		key  string
		opts Options
	}{
		{"kaldi80", KaldiOptions(80)},
		{"nemo80", NeMoOptions(80)},
		{"nemo128", NeMoOptions(128)},
	}
	for _, v := range variants {
		worstAll := 0.0
		for _, sig := range idx.Signals {
			t.Run(v.key+"/"+sig.Name, func(t *testing.T) {
				ref, ok := sig.Features[v.key]
				if !ok {
					t.Fatalf("no %s reference for %s", v.key, sig.Name)
				}
				if ref.Bins != v.opts.NumBins {
					t.Fatalf("reference has %d bins, options %d", ref.Bins, v.opts.NumBins)
				}
				pcm := readF32(t, sig.PCM)
				if len(pcm) != sig.Samples {
					t.Fatalf("%d samples in %s, index says %d", len(pcm), sig.PCM, sig.Samples)
				}
				want := readF32(t, ref.File)
				if len(want) != sig.Frames*ref.Bins {
					t.Fatalf("%d values in %s, want %d×%d", len(want), ref.File, sig.Frames, ref.Bins)
				}
				got, frames, err := Compute(v.opts, pcm)
				if err != nil {
					t.Fatal(err)
				}
				if frames != sig.Frames {
					t.Fatalf("%d frames, reference has %d", frames, sig.Frames)
				}
				d, at := maxAbsDiff(got, want)
				t.Logf("%d frames, max |Δ| = %.3g", frames, d)
				if d > refTolerance {
					t.Errorf("max |Δ| = %g at frame %d bin %d (got %g, want %g), tolerance %g",
						d, at/ref.Bins, at%ref.Bins, got[at], want[at], refTolerance)
				}
				worstAll = math.Max(worstAll, d)

				// Streaming in awkward pieces must give the same bits.
				for _, sizes := range [][]int{{1}, {37}, {160}, {161, 7, 400, 1}} {
					s := streamed(t, v.opts, pcm, sizes)
					if !equalBits(s, got) {
						t.Errorf("streaming in pieces %v differs from one-shot", sizes)
					}
				}
			})
		}
		t.Logf("%s: worst max |Δ| over all signals = %.3g", v.key, worstAll)
	}
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// directFeatures is a deliberately plain float64 implementation of the same
// specification (dense filters, O(N²) DFT), independent of the extractor's
// FFT, sparse filterbank and streaming buffer. It covers what torchaudio
// cannot: signals shorter than one frame.
func directFeatures(opts Options, x []float32) [][]float64 {
	n := len(x)
	L, S, N := opts.FrameLength, opts.FrameShift, opts.FFTSize()
	frames := (n + S/2) / S
	hi := opts.HighFreq
	if hi <= 0 {
		hi += float64(opts.SampleRate) / 2
	}
	// Dense filterbank over bins 0 … N/2.
	bank := make([][]float64, opts.NumBins)
	for b := range bank {
		bank[b] = make([]float64, N/2+1)
		for k := 0; k <= N/2; k++ {
			f := float64(k) * float64(opts.SampleRate) / float64(N)
			var l, c, r, v float64
			if opts.Mel == MelKaldi {
				if k == N/2 {
					continue
				}
				mel := func(f float64) float64 { return 1127 * math.Log(1+f/700) }
				d := (mel(hi) - mel(opts.LowFreq)) / float64(opts.NumBins+1)
				l, c, r = mel(opts.LowFreq)+float64(b)*d, mel(opts.LowFreq)+float64(b+1)*d, mel(opts.LowFreq)+float64(b+2)*d
				v = mel(f)
			} else {
				toMel := func(f float64) float64 {
					if f < 1000 {
						return 3 * f / 200
					}
					return 15 + 27*math.Log(f/1000)/math.Log(6.4)
				}
				toHz := func(m float64) float64 {
					if m < 15 {
						return 200 * m / 3
					}
					return 1000 * math.Pow(6.4, (m-15)/27)
				}
				d := (toMel(hi) - toMel(opts.LowFreq)) / float64(opts.NumBins+1)
				l = toHz(toMel(opts.LowFreq) + float64(b)*d)
				c = toHz(toMel(opts.LowFreq) + float64(b+1)*d)
				r = toHz(toMel(opts.LowFreq) + float64(b+2)*d)
				v = f
			}
			w := math.Max(0, math.Min((v-l)/(c-l), (r-v)/(r-c)))
			if opts.SlaneyNorm {
				w *= 2 / (r - l)
			}
			bank[b][k] = w
		}
	}
	out := make([][]float64, frames)
	for f := range out {
		fr := make([]float64, L)
		for i := range fr {
			s := f*S + S/2 - L/2 + i
			for s < 0 || s >= n {
				if s < 0 {
					s = -s - 1
				} else {
					s = 2*n - 1 - s
				}
			}
			fr[i] = float64(x[s])
		}
		if opts.RemoveDC {
			m := 0.0
			for _, v := range fr {
				m += v / float64(L)
			}
			for i := range fr {
				fr[i] -= m
			}
		}
		pre := make([]float64, L)
		for i := range fr {
			prev := fr[max(i-1, 0)]
			pre[i] = fr[i] - opts.Preemphasis*prev
			if opts.Window == WindowPovey {
				pre[i] *= math.Pow(0.5-0.5*math.Cos(2*math.Pi*float64(i)/float64(L-1)), 0.85)
			} else {
				pre[i] *= 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(L))
			}
		}
		power := make([]float64, N/2+1)
		for k := range power {
			var re, im float64
			for i, v := range pre {
				a := -2 * math.Pi * float64(k*i%N) / float64(N)
				re += v * math.Cos(a)
				im += v * math.Sin(a)
			}
			power[k] = re*re + im*im
		}
		out[f] = make([]float64, opts.NumBins)
		for b := range bank {
			e := 0.0
			for k, w := range bank[b] {
				e += w * power[k]
			}
			out[f][b] = math.Log(math.Max(e, fltEpsilon))
		}
	}
	return out
}

func TestMatchesDirectComputation(t *testing.T) {
	lengths := []int{0, 1, 79, 80, 81, 150, 199, 200, 201, 239, 240, 241, 280, 399, 400, 401, 519, 560, 999}
	for _, cfg := range []struct {
		name string
		opts Options
	}{
		{"kaldi80", KaldiOptions(80)},
		{"nemo128", NeMoOptions(128)},
	} {
		for _, n := range lengths {
			t.Run(fmt.Sprintf("%s/%d", cfg.name, n), func(t *testing.T) {
				x := testSignal(n, int64(n)+1)
				got, frames, err := Compute(cfg.opts, x)
				if err != nil {
					t.Fatal(err)
				}
				want := directFeatures(cfg.opts, x)
				if frames != len(want) {
					t.Fatalf("%d frames, want %d", frames, len(want))
				}
				for f := range want {
					for b, w := range want[f] {
						g := float64(got[f*cfg.opts.NumBins+b])
						if math.Abs(g-w) > 1e-4 {
							t.Fatalf("frame %d bin %d: got %g, want %g", f, b, g, w)
						}
					}
				}
				if s := streamed(t, cfg.opts, x, []int{3, 50, 1}); !equalBits(s, got) {
					t.Error("streaming differs from one-shot")
				}
			})
		}
	}
}

// TestReferenceDiscriminates guards against a reference check that cannot
// fail: each single deviation from the specification must move the features
// of the tones+noise signal (which has a DC offset) by more than the
// tolerance.
func TestReferenceDiscriminates(t *testing.T) {
	idx := loadIndex(t)
	var pcm, want []float32
	for _, sig := range idx.Signals {
		if sig.Name == "tones_noise" {
			pcm, want = readF32(t, sig.PCM), readF32(t, sig.Features["kaldi80"].File)
		}
	}
	if pcm == nil {
		t.Fatal("tones_noise missing from testdata/index.json")
	}
	for _, tt := range []struct {
		name string
		mod  func(*Options)
	}{
		{"no DC removal", func(o *Options) { o.RemoveDC = false }},
		{"hann window", func(o *Options) { o.Window = WindowHann }},
		{"pre-emphasis 0.96", func(o *Options) { o.Preemphasis = 0.96 }},
		{"high freq 7700", func(o *Options) { o.HighFreq = -300 }},
		{"low freq 0", func(o *Options) { o.LowFreq = 0 }},
	} {
		opts := KaldiOptions(80)
		tt.mod(&opts)
		got, _, err := Compute(opts, pcm)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := maxAbsDiff(got, want); d <= refTolerance {
			t.Errorf("%s: max |Δ| = %g, the reference does not tell it apart", tt.name, d)
		} else {
			t.Logf("%s: max |Δ| = %.3g", tt.name, d)
		}
	}
}
