package audio

/*
#include "resample.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/subtitled/subtitled/ingest"
)

// ErrResampler means a Resampler could not be built for the given format.
var ErrResampler = errors.New("audio: resampler")

// Resampler converts interleaved float32 PCM at any rate and channel count
// to 16 kHz mono, for inputs that are already PCM (WAV files). It is not
// safe for concurrent use.
type Resampler struct {
	s        *C.SwrContext
	channels int
	out      []float32
}

// NewResampler returns a resampler from rate Hz with channels channels.
func NewResampler(rate, channels int) (*Resampler, error) {
	if rate < 1000 || rate > 768000 || channels < 1 || channels > 32 {
		return nil, fmt.Errorf("%w: %d Hz, %d channels", ErrResampler, rate, channels)
	}
	r := &Resampler{channels: channels}
	if rc := C.sd_rs_open(&r.s, C.int(rate), C.int(channels), C.int(ingest.SampleRate)); rc < 0 {
		return nil, fmt.Errorf("%w: %d Hz, %d channels: %v", ErrResampler, rate, channels, averr(rc))
	}
	return r, nil
}

// Resample converts in (interleaved, a whole number of frames) and returns
// the 16 kHz mono samples ready so far. The result is valid until the next
// call.
func (r *Resampler) Resample(in []float32) ([]float32, error) {
	if r.s == nil {
		return nil, ErrClosed
	}
	if len(in)%r.channels != 0 {
		return nil, fmt.Errorf("%w: %d samples is not a whole number of %d-channel frames", ErrResampler, len(in), r.channels)
	}
	return r.convert(in, len(in)/r.channels)
}

// Flush drains the resampler's delay line at the end of the input.
func (r *Resampler) Flush() ([]float32, error) {
	if r.s == nil {
		return nil, ErrClosed
	}
	return r.convert(nil, 0)
}

func (r *Resampler) convert(in []float32, frames int) ([]float32, error) {
	capacity := int(C.sd_rs_out_max(r.s, C.int(frames))) + 16
	if cap(r.out) < capacity {
		r.out = make([]float32, capacity)
	}
	out := r.out[:capacity]
	var inPtr *C.float
	if frames > 0 {
		inPtr = (*C.float)(unsafe.Pointer(&in[0]))
	}
	n := C.sd_rs_convert(r.s, (*C.float)(unsafe.Pointer(&out[0])), C.int(capacity), inPtr, C.int(frames))
	if n < 0 {
		return nil, fmt.Errorf("%w: convert: %v", ErrResampler, averr(n))
	}
	return out[:n], nil
}

// Close frees the resampler; it is safe to call more than once.
func (r *Resampler) Close() {
	if r.s != nil {
		C.sd_rs_close(r.s)
		r.s = nil
	}
}
