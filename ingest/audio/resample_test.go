package audio

import (
	"errors"
	"math"
	"testing"
)

func TestResamplerRateAndDownmix(t *testing.T) {
	tests := []struct {
		rate, channels int
	}{
		{48000, 2}, {44100, 1}, {16000, 1}, {8000, 2}, {22050, 6},
	}
	for _, tt := range tests {
		r, err := NewResampler(tt.rate, tt.channels)
		if err != nil {
			t.Fatal(err)
		}
		// One second of a 1 kHz tone on every channel.
		in := make([]float32, tt.rate*tt.channels)
		for i := 0; i < tt.rate; i++ {
			v := float32(0.5 * math.Sin(2*math.Pi*1000*float64(i)/float64(tt.rate)))
			for c := 0; c < tt.channels; c++ {
				in[i*tt.channels+c] = v
			}
		}
		var out []float32
		for off := 0; off < len(in); off += 999 * tt.channels {
			o, err := r.Resample(in[off:min(off+999*tt.channels, len(in))])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o...)
		}
		o, err := r.Flush()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o...)
		r.Close()
		r.Close()
		if d := len(out) - 16000; d < -32 || d > 32 {
			t.Errorf("%d Hz × %d: %d output samples for 1 s, want about 16000", tt.rate, tt.channels, len(out))
		}
		// Zero crossings of a 1 kHz tone: about 2000 per second.
		zc := 0
		for i := 1000; i < len(out)-1000; i++ {
			if (out[i-1] < 0) != (out[i] < 0) {
				zc++
			}
		}
		if want := 2000 * (len(out) - 2000) / 16000; zc < want-20 || zc > want+20 {
			t.Errorf("%d Hz × %d: %d zero crossings, want about %d", tt.rate, tt.channels, zc, want)
		}
	}
}

func TestResamplerErrors(t *testing.T) {
	if _, err := NewResampler(5, 1); !errors.Is(err, ErrResampler) {
		t.Fatalf("absurd rate: %v", err)
	}
	r, err := NewResampler(48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resample(make([]float32, 3)); !errors.Is(err, ErrResampler) {
		t.Fatalf("odd sample count: %v", err)
	}
	r.Close()
	if _, err := r.Resample(make([]float32, 2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
