// Package wav reads RIFF/WAVE files holding PCM audio (8/16/24/32-bit
// integer or 32/64-bit float, any rate and channel count) as float32.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrNotWAV means the input is not a RIFF/WAVE file.
var ErrNotWAV = errors.New("wav: not a RIFF/WAVE file")

// ErrUnsupported means the file is WAVE but its sample format is not PCM or
// float of a supported width.
var ErrUnsupported = errors.New("wav: unsupported sample format")

// Format describes the samples.
type Format struct {
	SampleRate    int
	Channels      int
	BitsPerSample int
	Float         bool
}

// Reader yields interleaved float32 samples in [-1, 1].
type Reader struct {
	r      io.Reader
	format Format
	remain int64 // bytes left in the data chunk (-1: unknown, read to EOF)
	buf    []byte
}

const (
	fmtPCM        = 1
	fmtFloat      = 3
	fmtExtensible = 0xFFFE
	maxChunkSkip  = 1 << 24
)

// NewReader parses the header up to the start of the data chunk.
func NewReader(r io.Reader) (*Reader, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, ErrNotWAV
	}
	wr := &Reader{r: r}
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, fmt.Errorf("wav: no data chunk: %w", err)
		}
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrUnsupported, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("wav: fmt chunk: %w", err)
			}
			if err := wr.parseFmt(b[:size]); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrUnsupported)
			}
			wr.remain = size
			if size == 0 || size == 0xFFFFFFFF {
				wr.remain = -1 // streaming writers leave the size unset
			}
			return wr, nil
		default:
			if size > maxChunkSkip {
				return nil, fmt.Errorf("wav: chunk %q of %d bytes before data", id, size)
			}
			if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
				return nil, fmt.Errorf("wav: chunk %q: %w", id, err)
			}
		}
	}
}

func (wr *Reader) parseFmt(b []byte) error {
	tag := binary.LittleEndian.Uint16(b[0:2])
	f := Format{
		Channels:      int(binary.LittleEndian.Uint16(b[2:4])),
		SampleRate:    int(binary.LittleEndian.Uint32(b[4:8])),
		BitsPerSample: int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if tag == fmtExtensible && len(b) >= 26 {
		tag = binary.LittleEndian.Uint16(b[24:26])
	}
	switch {
	case tag == fmtFloat && (f.BitsPerSample == 32 || f.BitsPerSample == 64):
		f.Float = true
	case tag == fmtPCM && (f.BitsPerSample == 8 || f.BitsPerSample == 16 || f.BitsPerSample == 24 || f.BitsPerSample == 32):
	default:
		return fmt.Errorf("%w: format tag %#x with %d bits", ErrUnsupported, tag, f.BitsPerSample)
	}
	if f.Channels < 1 || f.Channels > 32 {
		return fmt.Errorf("%w: %d channels", ErrUnsupported, f.Channels)
	}
	if f.SampleRate < 1000 || f.SampleRate > 768000 {
		return fmt.Errorf("%w: sample rate %d Hz", ErrUnsupported, f.SampleRate)
	}
	wr.format = f
	return nil
}

// Format returns the file's sample format.
func (wr *Reader) Format() Format { return wr.format }

// Read fills dst with interleaved samples and returns how many it wrote
// (always a multiple of the channel count), or io.EOF at the end. A
// truncated final frame is dropped.
func (wr *Reader) Read(dst []float32) (int, error) {
	bps := wr.format.BitsPerSample / 8
	frameBytes := bps * wr.format.Channels
	frames := len(dst) / wr.format.Channels
	if frames == 0 {
		return 0, fmt.Errorf("wav: destination shorter than one frame of %d channels", wr.format.Channels)
	}
	want := int64(frames * frameBytes)
	if wr.remain >= 0 && want > wr.remain {
		want = wr.remain - wr.remain%int64(frameBytes)
	}
	if want == 0 {
		return 0, io.EOF
	}
	if cap(wr.buf) < int(want) {
		wr.buf = make([]byte, want)
	}
	b := wr.buf[:want]
	n, err := io.ReadFull(wr.r, b)
	n -= n % frameBytes
	if wr.remain >= 0 {
		wr.remain -= int64(n)
	}
	if n == 0 {
		if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return 0, err
	}
	b = b[:n]
	out := dst[:n/bps]
	switch {
	case wr.format.Float && bps == 4:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case wr.format.Float:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case bps == 1:
		for i := range out {
			out[i] = (float32(b[i]) - 128) / 128
		}
	case bps == 2:
		for i := range out {
			out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
		}
	case bps == 3:
		for i := range out {
			v := int32(b[3*i]) | int32(b[3*i+1])<<8 | int32(int8(b[3*i+2]))<<16
			out[i] = float32(v) / 8388608
		}
	default:
		for i := range out {
			out[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:]))) / 2147483648
		}
	}
	return len(out), nil
}
