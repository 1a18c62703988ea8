package onnx

import (
	"slices"
	"strconv"
	"strings"
)

// NeMo cache-aware FastConformer constants (MODEL-CONTRACT §2, §3.2).
const (
	nemoSubsampling = 8
	nemoBlankSymbol = "<blk>"
	// FeatureNeMo is the FeatureType of NeMo models: features.NeMoOptions
	// (Hann window, Slaney mel 0-8000 Hz, no DC removal) with FeatureDim bins.
	FeatureNeMo = "nemo_fbank"
	// FeatureKaldi is the FeatureType of icefall models and subtitled_ctc:
	// features.KaldiOptions.
	FeatureKaldi = "kaldi_fbank"
)

// nemoEncoder is what the metadata and session of a NeMo cache-aware
// encoder give (§2.1, §2.2).
type nemoEncoder struct {
	featDim, window, shift, sub, outFrames int
	vocabSize                              int // metadata vocab_size: without the blank
	layers, cache, dModel, conv            int
	predLayers, predHidden                 int // 0 when the metadata has none
	states                                 []StateInfo
	bind                                   binding
	maxBatch                               int
}

// nemoMeta reads the integer metadata of a NeMo encoder.
type nemoMeta struct {
	m    ModelIO
	errf func(format string, args ...any) error
}

func (n nemoMeta) int(key string, required bool, def int) (int, error) {
	v, ok := n.m.Metadata[key]
	if !ok {
		if required {
			return 0, n.errf("metadata %s is missing", key)
		}
		return def, nil
	}
	x, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, n.errf("metadata %s=%q is not an integer", key, v)
	}
	return x, nil
}

// parseNeMoEncoder checks a NeMo cache-aware encoder (or CTC model, ctc
// true) against §2.1, §2.2 and §2.4 and derives its binding: input 0
// audio_signal float32 [N, feat_dim, T] (channels-first), 1 length int64
// [N], 2 cache_last_channel float32 [N, L, C, D], 3 cache_last_time float32
// [N, L, D, K], 4 cache_last_channel_len int64 [N]; output 0 the encoder
// output [N, D, T'] (CTC: log-probs [N, T', V]), 1 encoded_lengths [N],
// 2-4 the next caches, fed back as inputs 2-4. V is the token count (for
// the CTC output).
func parseNeMoEncoder(m ModelIO, ctc bool, V int, errf func(format string, args ...any) error) (*nemoEncoder, error) {
	e := &nemoEncoder{}
	md := nemoMeta{m: m, errf: errf}
	var err error
	ints := []struct {
		key      string
		dst      *int
		required bool
		def      int
	}{
		{"window_size", &e.window, true, 0},
		{"chunk_shift", &e.shift, true, 0},
		{"vocab_size", &e.vocabSize, true, 0},
		{"subsampling_factor", &e.sub, false, nemoSubsampling},
		{"cache_last_channel_dim1", &e.layers, true, 0},
		{"cache_last_channel_dim2", &e.cache, true, 0},
		{"cache_last_channel_dim3", &e.dModel, true, 0},
		{"feat_dim", &e.featDim, false, 0},
		{"pred_rnn_layers", &e.predLayers, false, 0},
		{"pred_hidden", &e.predHidden, false, 0},
	}
	for _, f := range ints {
		if *f.dst, err = md.int(f.key, f.required, f.def); err != nil {
			return nil, err
		}
	}
	var tLayers, tDModel int
	if tLayers, err = md.int("cache_last_time_dim1", true, 0); err != nil {
		return nil, err
	}
	if tDModel, err = md.int("cache_last_time_dim2", true, 0); err != nil {
		return nil, err
	}
	if e.conv, err = md.int("cache_last_time_dim3", true, 0); err != nil {
		return nil, err
	}
	const maxDim = 1 << 16 // bounds every dim, so that products cannot overflow
	for _, d := range []int{e.window, e.shift, e.sub, e.layers, e.cache, e.dModel, e.conv, e.predLayers, e.predHidden, e.featDim} {
		if d > maxDim {
			return nil, errf("metadata value %d is too large (window_size, chunk_shift, subsampling_factor, cache and prediction network dims must be at most %d)", d, maxDim)
		}
	}
	switch {
	case e.sub < 1:
		return nil, errf("subsampling_factor %d < 1", e.sub)
	case e.shift < e.sub || e.shift%e.sub != 0:
		return nil, errf("chunk_shift %d is not a positive multiple of subsampling_factor %d", e.shift, e.sub)
	case e.window < e.shift || e.window > 100*e.shift:
		return nil, errf("window_size %d is not between chunk_shift %d and 100×", e.window, e.shift)
	case e.layers < 1 || e.cache < 1 || e.dModel < 1 || e.conv < 1:
		return nil, errf("cache_last_channel dims %d,%d,%d / cache_last_time_dim3 %d must be positive", e.layers, e.cache, e.dModel, e.conv)
	case tLayers != e.layers || tDModel != e.dModel:
		return nil, errf("cache_last_time_dim1,2 = %d,%d disagree with cache_last_channel_dim1,3 = %d,%d (layers, d_model)",
			tLayers, tDModel, e.layers, e.dModel)
	case int64(e.layers)*int64(e.cache)*int64(e.dModel) > 1<<28 || int64(e.layers)*int64(e.dModel)*int64(e.conv) > 1<<28:
		return nil, errf("caches from the metadata are too large")
	}
	if v, ok := m.Metadata["chunk_size_ms"]; ok {
		ms, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || ms != 10*e.shift {
			return nil, errf("chunk_size_ms=%q disagrees with chunk_shift %d (%d ms of 10 ms frames)", v, e.shift, 10*e.shift)
		}
	}
	switch nt := m.Metadata["normalize_type"]; nt {
	case "", "NA", "None":
	default:
		return nil, errf("normalize_type %q is not supported (cache-aware streaming models have none)", nt)
	}
	if f := m.Metadata["feature"]; f != "" {
		return nil, errf("feature=%q features are not supported (want NeMo log-mel)", f)
	}
	e.outFrames = e.shift / e.sub

	// Inputs and outputs, by position.
	want := "inputs audio_signal float32 [N,feat_dim,T], length int64 [N], cache_last_channel float32 [N,L,C,D], " +
		"cache_last_time float32 [N,L,D,K], cache_last_channel_len int64 [N]"
	if len(m.Inputs) == 6 && m.Inputs[5].Name == "prompt_index" {
		return nil, errf("input 5 prompt_index: multilingual prompted encoders (Nemotron-3.5) are not supported")
	}
	if len(m.Inputs) != 5 {
		return nil, errf("the encoder has %d inputs, want 5: %s", len(m.Inputs), want)
	}
	in := m.Inputs
	for i, w := range []struct {
		dtype string
		rank  int
	}{{"float32", 3}, {"int64", 1}, {"float32", 4}, {"float32", 4}, {"int64", 1}} {
		if in[i].DType != w.dtype || len(in[i].Shape) != w.rank {
			return nil, errf("input %d %s must be %s of rank %d (%s)", i, in[i], w.dtype, w.rank, want)
		}
	}
	x := in[0]
	switch d := x.Shape[1]; {
	case d < 0 && e.featDim == 0:
		return nil, errf("input 0 %s has a dynamic feature dim and there is no feat_dim metadata", x)
	case d >= 0 && e.featDim != 0 && d != int64(e.featDim):
		return nil, errf("input 0 %s takes %d-bin features but metadata feat_dim is %d", x, d, e.featDim)
	case d >= 0:
		e.featDim = int(d)
	}
	if e.featDim != 80 && e.featDim != 128 {
		return nil, errf("input 0 %s takes %d-bin features; NeMo models take 80- or 128-bin NeMo log-mel features", x, e.featDim)
	}
	if x.Shape[2] >= 0 && x.Shape[2] != int64(e.window) {
		return nil, errf("input 0 %s takes %d frames but window_size is %d", x, x.Shape[2], e.window)
	}
	e.states = []StateInfo{
		{Name: in[2].Name, DType: "float32", Shape: []int64{1, int64(e.layers), int64(e.cache), int64(e.dModel)}},
		{Name: in[3].Name, DType: "float32", Shape: []int64{1, int64(e.layers), int64(e.dModel), int64(e.conv)}},
		{Name: in[4].Name, DType: "int64", Shape: []int64{1}},
	}
	names := []string{"cache_last_channel_next", "cache_last_time_next", "cache_last_channel_next_len"}
	if len(m.Outputs) != 5 {
		missing := "extra outputs"
		for _, n := range names {
			if !slices.ContainsFunc(m.Outputs, func(t TensorInfo) bool { return t.Name == n }) {
				missing = "no output " + n
				break
			}
		}
		return nil, errf("the encoder has 3 state inputs but %d outputs, want 5: the encoder output, encoded_lengths and the 3 next caches (%s)",
			len(m.Outputs), missing)
	}
	out := m.Outputs
	if o := out[1]; len(o.Shape) != 1 || (o.DType != "int64" && o.DType != "int32" && o.DType != "float32") {
		return nil, errf("output 1 %s must be encoded_lengths [N]", o)
	}
	for j, s := range e.states {
		i, o := in[j+2], out[j+2]
		if o.DType != s.DType || len(o.Shape) != len(s.Shape) {
			return nil, errf("state %d: output %s must be %s like input %s", j+1, o, s.DType, i)
		}
		for d := range s.Shape {
			if d == 0 {
				if i.Shape[0] > 1 || o.Shape[0] > 1 {
					return nil, errf("state %d %s: batch axis 0 has fixed size %d (want dynamic or 1)", j+1, i, max(i.Shape[0], o.Shape[0]))
				}
				if i.Shape[0] == 1 || o.Shape[0] == 1 {
					e.maxBatch = 1
				}
				continue
			}
			if (i.Shape[d] >= 0 && i.Shape[d] != s.Shape[d]) || (o.Shape[d] >= 0 && o.Shape[d] != s.Shape[d]) {
				return nil, errf("state %d: input %s / output %s do not match %s%s, derived from the metadata",
					j+1, i, o, s.Name, shapeString(s))
			}
		}
	}
	o := out[0]
	if o.DType != "float32" || len(o.Shape) != 3 {
		return nil, errf("output 0 %s must be float32 of rank 3", o)
	}
	frames, width, wname := o.Shape[2], o.Shape[1], "d_model"
	wantWidth := int64(e.dModel)
	if ctc {
		frames, width, wname, wantWidth = o.Shape[1], o.Shape[2], "the token count", int64(V)
	}
	if frames >= 0 && frames != int64(e.outFrames) {
		return nil, errf("output 0 %s has %d frames per call, want chunk_shift/subsampling_factor = %d", o, frames, e.outFrames)
	}
	if width >= 0 && width != wantWidth {
		if ctc && width > int64(V) {
			return nil, errf("output 0 %s scores %d tokens but tokens.txt has %d: token ids %d..%d would have no symbol", o, width, V, V, width-1)
		}
		return nil, errf("output 0 %s has width %d, want %s = %d", o, width, wname, wantWidth)
	}
	if x.Shape[0] == 1 || o.Shape[0] == 1 {
		e.maxBatch = 1
	}
	e.bind = binding{nIn: 5, nOut: 5, feat: 0, featNFT: true, main: 0, mainNDT: !ctc,
		lengths: []int{1}, skips: []skipOutput{{index: 1, dtype: out[1].DType}}}
	for j, s := range e.states {
		e.bind.addState(j+2, j+2, s)
	}
	e.states = e.bind.stateInfos()
	return e, nil
}

// nemoTokens checks that tokens.txt has vocab_size+1 entries and the blank
// last (sherpa-onnx checks this too).
func nemoTokens(e *nemoEncoder, V int, last, path string, errf func(format string, args ...any) error) error {
	if e.vocabSize+1 != V {
		return errf("vocab_size %d + blank does not match the %d tokens of %s", e.vocabSize, V, path)
	}
	if last != nemoBlankSymbol {
		return errf("the last token of %s is %q; NeMo models put the blank %s last", path, last, nemoBlankSymbol)
	}
	return nil
}

// validateNeMoCTC checks a NeMo cache-aware CTC model (§2.4).
func (b *Bundle) validateNeMoCTC() error {
	V := b.Tokens.Len()
	errf := func(format string, args ...any) error { return b.contractError(format, args...) }
	e, err := parseNeMoEncoder(b.contractIO(), true, V, errf)
	if err != nil {
		return err
	}
	if err := nemoTokens(e, V, b.Tokens.Symbol(V-1), b.TokensPath, errf); err != nil {
		return err
	}
	b.Contract = Contract{Family: FamilyNeMoCTC, FeatureType: FeatureNeMo, FeatureDim: e.featDim, SampleRate: 16000,
		ChunkFrames: e.window, ChunkShift: e.shift, Subsampling: e.sub, BlankID: V - 1, PadValue: DefaultPadValue,
		StateBatchAxes: []int{0, 0, 0, 0}, VocabSize: V, MaxBatch: e.maxBatch, States: e.states, ResetOnEndpoint: true}
	b.bind = e.bind
	b.logits = true
	return nil
}

// validateNeMo checks a NeMo cache-aware transducer bundle (§2.1-§2.3):
// the encoder as parseNeMoEncoder; the prediction network with inputs
// targets int32 [N,1], target_length int32 [N], the LSTM states h and c
// float32 [pred_rnn_layers, N, pred_hidden] and outputs [N, pred_hidden, 1],
// prednet_lengths, the next h and c; the joiner with inputs [N, d_model, 1]
// and [N, pred_hidden, 1] and output [N, 1, 1, V]. tokens.txt has
// vocab_size+1 tokens, the blank last.
func (b *TransducerBundle) validateNeMo() error {
	enc, dec, join := b.Encoder, b.Decoder, b.Joiner
	V := b.Tokens.Len()
	e, err := parseNeMoEncoder(enc, false, V, func(format string, args ...any) error {
		return b.contractError(enc, format, args...)
	})
	if err != nil {
		return err
	}
	if err := nemoTokens(e, V, b.Tokens.Symbol(V-1), b.TokensPath, func(format string, args ...any) error {
		return b.contractError(enc, format, args...)
	}); err != nil {
		return err
	}
	p := TransducerParams{Family: FamilyNeMoTransducer, FeatureType: FeatureNeMo, FeatureDim: e.featDim, SampleRate: 16000,
		ChunkFrames: e.window, ChunkShift: e.shift, Subsampling: e.sub, OutFrames: e.outFrames, ContextSize: 1,
		VocabSize: V, EncoderDim: e.dModel, BlankID: V - 1, UnkID: -1, PadValue: DefaultPadValue, States: e.states,
		ResetOnEndpoint: true, MaxBatch: e.maxBatch}

	// Prediction network.
	decWant := "inputs targets int32 [N,1], target_length int32 [N], h and c float32 [layers,N,hidden]; " +
		"outputs [N,hidden,1], prednet_lengths, next h and c"
	if len(dec.Inputs) != 4 {
		return b.contractError(dec, "the decoder has %d inputs, want 4: %s", len(dec.Inputs), decWant)
	}
	if len(dec.Outputs) != 4 {
		return b.contractError(dec, "the decoder has %d outputs, want 4 (%s): %d LSTM state inputs but %d state outputs",
			len(dec.Outputs), decWant, 2, max(len(dec.Outputs)-2, 0))
	}
	di, do := dec.Inputs, dec.Outputs
	if di[0].DType != "int32" || len(di[0].Shape) != 2 || (di[0].Shape[1] >= 0 && di[0].Shape[1] != 1) {
		return b.contractError(dec, "input 0 %s must be targets int32 [N,1]", di[0])
	}
	if di[1].DType != "int32" || len(di[1].Shape) != 1 {
		return b.contractError(dec, "input 1 %s must be target_length int32 [N]", di[1])
	}
	if do[0].DType != "float32" || len(do[0].Shape) != 3 || (do[0].Shape[2] >= 0 && do[0].Shape[2] != 1) {
		return b.contractError(dec, "output 0 %s must be float32 [N,pred_hidden,1]", do[0])
	}
	if len(do[1].Shape) != 1 {
		return b.contractError(dec, "output 1 %s must be prednet_lengths [N]", do[1])
	}
	layers, hidden := int64(e.predLayers), int64(e.predHidden)
	for _, t := range []TensorInfo{di[2], di[3], do[2], do[3]} {
		if t.DType != "float32" || len(t.Shape) != 3 {
			return b.contractError(dec, "LSTM state %s must be float32 [pred_rnn_layers,N,pred_hidden]", t)
		}
		if t.Shape[0] > 1<<16 || t.Shape[2] > 1<<16 {
			return b.contractError(dec, "LSTM state %s is too large", t)
		}
		if t.Shape[1] > 1 {
			return b.contractError(dec, "LSTM state %s: batch axis 1 has fixed size %d (want dynamic or 1)", t, t.Shape[1])
		}
		for _, c := range []struct {
			d    int64
			v    *int64
			what string
		}{{t.Shape[0], &layers, "pred_rnn_layers"}, {t.Shape[2], &hidden, "pred_hidden"}} {
			switch {
			case c.d < 0:
			case *c.v == 0:
				*c.v = c.d
			case c.d != *c.v:
				return b.contractError(dec, "LSTM state %s does not match %s %d", t, c.what, *c.v)
			}
		}
	}
	if d := do[0].Shape[1]; d >= 0 && hidden > 0 && d != hidden {
		return b.contractError(dec, "output 0 %s has width %d but pred_hidden is %d", do[0], d, hidden)
	} else if hidden == 0 && d > 0 && d <= 1<<16 {
		hidden = d
	}
	if layers < 1 || hidden < 1 || layers*hidden > 1<<24 {
		return b.contractError(dec, "the LSTM state size is not declared or not sane (pred_rnn_layers %d, pred_hidden %d; metadata or static shapes)", layers, hidden)
	}
	for _, d := range []int64{di[0].Shape[0], di[1].Shape[0], do[0].Shape[0], di[2].Shape[1], di[3].Shape[1], do[2].Shape[1], do[3].Shape[1]} {
		if d == 1 {
			p.MaxBatch = 1
		}
	}
	p.DecoderDim = int(hidden)
	p.DecoderStates = []StateInfo{
		{Name: di[2].Name, DType: "float32", Shape: []int64{layers, 1, hidden}, BatchAxis: 1},
		{Name: di[3].Name, DType: "float32", Shape: []int64{layers, 1, hidden}, BatchAxis: 1},
	}

	// Joiner.
	if len(join.Inputs) != 2 || len(join.Outputs) != 1 {
		return b.contractError(join, "want inputs encoder_outputs [N,d_model,1], decoder_outputs [N,pred_hidden,1] and one output [N,1,1,V]")
	}
	for i, w := range []int64{int64(e.dModel), hidden} {
		t := join.Inputs[i]
		if t.DType != "float32" || len(t.Shape) != 3 || (t.Shape[2] >= 0 && t.Shape[2] != 1) {
			return b.contractError(join, "input %d %s must be float32 [N,dim,1]", i, t)
		}
		if t.Shape[1] >= 0 && t.Shape[1] != w {
			return b.contractError(join, "input %d %s has width %d, want %d", i, t, t.Shape[1], w)
		}
	}
	jo := join.Outputs[0]
	if jo.DType != "float32" || len(jo.Shape) != 4 {
		return b.contractError(join, "output %s must be float32 [N,1,1,V]", jo)
	}
	if v := jo.Shape[3]; v >= 0 && v != int64(V) {
		if v > int64(V) {
			return b.contractError(join, "output %s scores %d tokens but %s has %d: token ids %d..%d would have no symbol",
				jo, v, b.TokensPath, V, V, v-1)
		}
		return b.contractError(join, "output %s scores %d tokens but %s has %d", jo, v, b.TokensPath, V)
	}
	b.encBind = e.bind
	b.Params = p
	return nil
}
