package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"
)

// build writes a WAVE file with the given fmt fields and raw data.
func build(tag uint16, channels, rate, bits int, data []byte, extra ...[]byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(0))
	b.WriteString("WAVE")
	for _, x := range extra {
		b.Write(x)
	}
	b.WriteString("fmt ")
	binary.Write(&b, le, uint32(16))
	binary.Write(&b, le, tag)
	binary.Write(&b, le, uint16(channels))
	binary.Write(&b, le, uint32(rate))
	binary.Write(&b, le, uint32(rate*channels*bits/8))
	binary.Write(&b, le, uint16(channels*bits/8))
	binary.Write(&b, le, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, le, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func readAll(t *testing.T, r *Reader) []float32 {
	t.Helper()
	var out []float32
	buf := make([]float32, 5*r.Format().Channels)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFormats(t *testing.T) {
	le := binary.LittleEndian
	s16 := make([]byte, 0)
	for _, v := range []int16{0, 16384, -32768, 32767} {
		s16 = le.AppendUint16(s16, uint16(v))
	}
	f32 := make([]byte, 0)
	for _, v := range []float32{0, 0.5, -1, 0.25} {
		f32 = le.AppendUint32(f32, math.Float32bits(v))
	}
	s24 := []byte{0, 0, 0, 0, 0, 0x40, 0, 0, 0x80, 0xff, 0xff, 0x7f}
	u8 := []byte{128, 192, 0, 255}
	junk := append([]byte("LIST"), 3, 0, 0, 0, 'a', 'b', 'c', 0)
	tests := []struct {
		name string
		file []byte
		ch   int
		want []float32
	}{
		{"s16 stereo", build(fmtPCM, 2, 48000, 16, s16), 2, []float32{0, 0.5, -1, 32767.0 / 32768}},
		{"f32 mono", build(fmtFloat, 1, 16000, 32, f32), 1, []float32{0, 0.5, -1, 0.25}},
		{"s24 mono", build(fmtPCM, 1, 44100, 24, s24), 1, []float32{0, 0.5, -1, 8388607.0 / 8388608}},
		{"u8 mono", build(fmtPCM, 1, 8000, 8, u8), 1, []float32{0, 0.5, -1, 127.0 / 128}},
		{"odd-sized chunk skipped", build(fmtPCM, 2, 48000, 16, s16, junk), 2, []float32{0, 0.5, -1, 32767.0 / 32768}},
		{"truncated frame dropped", build(fmtPCM, 2, 48000, 16, s16[:6]), 2, []float32{0, 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Format().Channels != tt.ch {
				t.Fatalf("channels %d, want %d", r.Format().Channels, tt.ch)
			}
			got := readAll(t, r)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if math.Abs(float64(got[i]-tt.want[i])) > 1e-6 {
					t.Fatalf("sample %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"not riff", []byte("hello, this is not a wav file"), ErrNotWAV},
		{"empty", nil, ErrNotWAV},
		{"adpcm", build(2, 1, 8000, 4, []byte{1, 2}), ErrUnsupported},
		{"zero channels", build(fmtPCM, 0, 8000, 16, nil), ErrUnsupported},
		{"absurd rate", build(fmtPCM, 1, 5, 16, nil), ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewReader(bytes.NewReader(tt.file)); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add(build(fmtPCM, 2, 48000, 16, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(build(fmtFloat, 1, 16000, 32, []byte{0, 0, 0x80, 0x3f}))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		buf := make([]float32, 3*r.Format().Channels)
		for i := 0; i < 1<<16; i++ {
			n, err := r.Read(buf)
			if n%r.Format().Channels != 0 {
				t.Fatalf("read %d samples, not a whole frame", n)
			}
			for _, v := range buf[:n] {
				if !r.Format().Float && (v < -1 || v > 1) {
					t.Fatalf("integer sample out of range: %v", v)
				}
			}
			if err != nil {
				return
			}
		}
		t.Fatal("reader did not reach EOF")
	})
}
