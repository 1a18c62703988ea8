package onnx

import (
	"testing"
)

// FuzzNeMoMetadata feeds arbitrary metadata values to the NeMo encoder
// check (parseNeMoEncoder) over the I/O of a NeMo CTC model with dynamic
// dims: it must never panic, and what it accepts must be consistent: a
// whole number of 80 or 128-bin frames per call, shift ≥ subsampling,
// window ≥ shift, caches shaped by the metadata, and every session input
// and output given one role.
func FuzzNeMoMetadata(f *testing.F) {
	f.Add("17", "8", "8", "2", "6", "24", "4", "24", "80")
	f.Add("65", "56", "", "3", "8", "20", "3", "20", "128")
	f.Add("-1", "0", "x", "1", "99999999", "2", "2", "3", "40")
	f.Fuzz(func(t *testing.T, window, shift, sub, layers, cache, dModel, conv, tDModel, feat string) {
		meta := map[string]string{
			"window_size": window, "chunk_shift": shift, "vocab_size": "17",
			"cache_last_channel_dim1": layers, "cache_last_channel_dim2": cache, "cache_last_channel_dim3": dModel,
			"cache_last_time_dim1": layers, "cache_last_time_dim2": tDModel, "cache_last_time_dim3": conv,
			"feat_dim": feat,
		}
		if sub != "" {
			meta["subsampling_factor"] = sub
		}
		dyn := func(name, dtype string, rank int) TensorInfo {
			s := make([]int64, rank)
			for i := range s {
				s[i] = -1
			}
			return TensorInfo{Name: name, DType: dtype, Shape: s}
		}
		m := ModelIO{Path: "model.onnx", Metadata: meta,
			Inputs: []TensorInfo{dyn("audio_signal", "float32", 3), dyn("length", "int64", 1),
				dyn("cache_last_channel", "float32", 4), dyn("cache_last_time", "float32", 4), dyn("cache_last_channel_len", "int64", 1)},
			Outputs: []TensorInfo{dyn("logprobs", "float32", 3), dyn("encoded_lengths", "int64", 1),
				dyn("cache_last_channel_next", "float32", 4), dyn("cache_last_time_next", "float32", 4), dyn("cache_last_channel_next_len", "int64", 1)},
		}
		e, err := parseNeMoEncoder(m, true, 18, func(format string, args ...any) error { return errFuzz })
		if err != nil {
			return
		}
		switch {
		case e.featDim != 80 && e.featDim != 128:
			t.Fatalf("accepted %d-bin features", e.featDim)
		case e.sub < 1 || e.shift < e.sub || e.shift%e.sub != 0 || e.outFrames*e.sub != e.shift:
			t.Fatalf("accepted shift %d, subsampling %d, %d frames", e.shift, e.sub, e.outFrames)
		case e.window < e.shift:
			t.Fatalf("accepted window %d < shift %d", e.window, e.shift)
		case len(e.states) != 3 || e.states[0].Shape[2] != int64(e.cache) || e.states[1].Shape[2] != int64(e.dModel) ||
			e.states[1].Shape[3] != int64(e.conv) || e.states[0].Elements() < 1 || e.states[1].Elements() < 1:
			t.Fatalf("states %+v for metadata %v", e.states, meta)
		}
		roles := map[int]int{e.bind.feat: 1}
		outs := map[int]int{e.bind.main: 1}
		for _, k := range e.bind.lengths {
			roles[k]++
		}
		for _, s := range e.bind.skips {
			outs[s.index]++
		}
		for _, s := range e.bind.states {
			roles[s.in]++
			outs[s.out]++
		}
		for i := range 5 {
			if roles[i] != 1 || outs[i] != 1 {
				t.Fatalf("input %d has %d roles, output %d has %d", i, roles[i], i, outs[i])
			}
		}
	})
}

var errFuzz = errString("rejected")

type errString string

func (e errString) Error() string { return string(e) }
