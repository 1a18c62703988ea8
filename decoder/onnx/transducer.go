package onnx

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/subtitled/subtitled/decoder/ctc"
	"github.com/subtitled/subtitled/decoder/transducer"
)

// icefall transducer constants (reference MODEL-CONTRACT §1, §3.1).
const (
	icefallFeatureDim  = 80
	icefallSubsampling = 4
	// DefaultTailPadding is the number of silent feature frames a
	// TransducerStreamer appends at Finish: 0.66 s, as sherpa-onnx's examples.
	DefaultTailPadding = 66
)

// StateInfo describes one encoder state tensor: its session name, dtype, its
// shape with the batch axis set to 1, and the batch axis.
type StateInfo struct {
	Name      string
	DType     string // "float32" or "int64"
	Shape     []int64
	BatchAxis int
}

// Elements is the number of values per stream.
func (s StateInfo) Elements() int64 {
	n := int64(1)
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// TransducerParams are the streaming parameters of a transducer (icefall or
// NeMo), read from its metadata and checked against its sessions.
type TransducerParams struct {
	Family      string // FamilyZipformer2, FamilyZipformer, FamilyLSTM or FamilyNeMoTransducer
	FeatureType string // "kaldi_fbank" (icefall) or "nemo_fbank" (features.NeMoOptions)
	FeatureDim  int    // 80 (icefall, NeMo FastConformer) or 128 (Nemotron)
	SampleRate  int    // 16000
	ChunkFrames int    // T: feature frames per encoder call (NeMo window_size)
	ChunkShift  int    // frames the window advances per call (decode_chunk_len, NeMo chunk_shift)
	Subsampling int    // 4 (icefall) or 8 (NeMo)
	OutFrames   int    // T' = ChunkShift / Subsampling encoder frames per call
	ContextSize int    // decoder context C (NeMo: 1, the last token)
	VocabSize   int    // V
	JoinerDim   int    // J (icefall); 0 for NeMo, whose joiner dim is not visible
	EncoderDim  int    // width of an encoder output frame (icefall J, NeMo d_model)
	DecoderDim  int    // width of a decoder output (icefall J, NeMo pred_hidden)
	BlankID     int    // 0 (icefall) or V-1 (NeMo)
	UnkID       int    // <unk>, which icefall search treats as blank; -1 when absent, and for NeMo (whose search emits it)
	PadValue    float32
	States      []StateInfo
	// DecoderStates are a NeMo prediction network's LSTM states (h, c:
	// [pred_rnn_layers, N, pred_hidden], batch axis 1); nil for icefall.
	DecoderStates []StateInfo
	// ResetOnEndpoint says whether an endpoint zeroes the encoder states
	// (NeMo) rather than keeping them (icefall) (§1.9).
	ResetOnEndpoint bool
	// MaxBatch is 1 when the encoder was exported with a fixed batch of 1, else 0 (any).
	MaxBatch int
}

// StateBytes is the size of one stream's encoder and prediction-network
// state.
func (p TransducerParams) StateBytes() int64 {
	var n int64
	for _, s := range append(slices.Clone(p.States), p.DecoderStates...) {
		n += s.Elements() * map[string]int64{"float32": 4, "int64": 8}[s.DType]
	}
	return n
}

// TransducerBundle is an opened and validated transducer bundle.
type TransducerBundle struct {
	Dir        string
	Config     BundleConfig // name and language; model is not used
	Family     string
	TokensPath string
	Tokens     *ctc.Tokens
	Encoder    ModelIO
	Decoder    ModelIO
	Joiner     ModelIO
	Params     TransducerParams

	encBind binding // how the encoder's inputs and outputs are used
}

// Name is the bundle's display name: bundle.yaml name, else the directory name.
func (b *TransducerBundle) Name() string {
	if b.Config.Name != "" {
		return b.Config.Name
	}
	return filepath.Base(b.Dir)
}

// Describe lists the files' inputs, outputs and metadata keys.
func (b *TransducerBundle) Describe() string {
	var parts []string
	for _, m := range []ModelIO{b.Encoder, b.Decoder, b.Joiner} {
		if m.Path != "" {
			parts = append(parts, m.Describe())
		}
	}
	return strings.Join(parts, " | ")
}

// OpenTransducer opens the streaming transducer bundle in dir, found by
// DetectFamily: an icefall zipformer2, zipformer v1 or LSTM transducer, or a
// NeMo cache-aware FastConformer transducer (Nemotron included). It reads
// tokens.txt and checks the encoder's, decoder's and joiner's inputs,
// outputs and metadata against the family's contract (MODEL-CONTRACT
// §1.1-§1.4, §1.10, §2.1-§2.3). Errors wrap the sentinels of OpenBundle and
// say what was found.
func OpenTransducer(dir string) (*TransducerBundle, error) {
	det, err := DetectFamily(dir)
	if err != nil {
		return nil, err
	}
	switch {
	case !det.Transducer:
		return nil, fmt.Errorf("%w: %s holds a %s model, not a transducer (open it with OpenBundle)", ErrUnsupportedModel, dir, det.Family)
	case !det.Supported:
		return nil, fmt.Errorf("%w: %s is a %s transducer, which this build detects but does not run (%s)",
			ErrUnsupportedModel, dir, det.Family, det.Describe())
	}
	b := &TransducerBundle{Dir: dir, Family: det.Family, Encoder: det.Encoder, Decoder: det.Decoder, Joiner: det.Joiner}
	if err := readBundleConfig(filepath.Join(dir, "bundle.yaml"), &b.Config); err != nil {
		return nil, err
	}
	if len(b.Config.Heads) > 0 {
		return nil, fmt.Errorf("%w: %s: heads: a second head is supported for the single-file CTC families only, not for %s transducers",
			ErrBundleConfig, filepath.Join(dir, "bundle.yaml"), b.Family)
	}
	b.TokensPath = bundlePath(dir, b.Config.Tokens)
	if err := isFile(b.TokensPath); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBundleTokensMissing, b.TokensPath, err)
	}
	if b.Tokens, err = ctc.LoadTokens(b.TokensPath); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundleTokens, err)
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	return b, nil
}

// contractError builds one ErrBundleContract error naming the file and what
// was found in all three.
func (b *TransducerBundle) contractError(m ModelIO, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s (%s)", ErrBundleContract, m.Path, fmt.Sprintf(format, args...), b.Describe())
}

func (b *TransducerBundle) metaInt(m ModelIO, key string) (int, error) {
	v, ok := m.Metadata[key]
	if !ok {
		return 0, b.contractError(m, "metadata %s is missing", key)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, b.contractError(m, "metadata %s=%q is not an integer", key, v)
	}
	return n, nil
}

// metaInts parses a comma-separated list of positive integers.
func (b *TransducerBundle) metaInts(m ModelIO, key string) ([]int, error) {
	v, ok := m.Metadata[key]
	if !ok {
		return nil, b.contractError(m, "metadata %s is missing", key)
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, b.contractError(m, "metadata %s=%q: %q is not a positive integer", key, v, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func (b *TransducerBundle) validate() error {
	if b.Family == FamilyNeMoTransducer {
		return b.validateNeMo()
	}
	p := TransducerParams{Family: b.Family, FeatureType: "kaldi_fbank", FeatureDim: icefallFeatureDim,
		SampleRate: 16000, Subsampling: icefallSubsampling, BlankID: transducer.BlankID, UnkID: -1,
		PadValue: DefaultPadValue}
	if id, ok := b.Tokens.Lookup("<unk>"); ok {
		p.UnkID = id
	}
	V := b.Tokens.Len()
	enc, dec, join := b.Encoder, b.Decoder, b.Joiner
	var err error

	// Decoder: y int64 [N, C] → decoder_out float32 [N, J].
	if p.ContextSize, err = b.metaInt(dec, "context_size"); err != nil {
		return err
	}
	if p.ContextSize < 1 || p.ContextSize > 16 {
		return b.contractError(dec, "context_size %d outside 1..16", p.ContextSize)
	}
	if len(dec.Inputs) != 1 || dec.Inputs[0].DType != "int64" || len(dec.Inputs[0].Shape) != 2 {
		return b.contractError(dec, "want one input y int64 [N, context_size]")
	}
	if d := dec.Inputs[0].Shape[1]; d >= 0 && d != int64(p.ContextSize) {
		return b.contractError(dec, "input %s has context %d but context_size is %d", dec.Inputs[0], d, p.ContextSize)
	}
	if len(dec.Outputs) != 1 || dec.Outputs[0].DType != "float32" || len(dec.Outputs[0].Shape) != 2 {
		return b.contractError(dec, "want one output decoder_out float32 [N, joiner_dim]")
	}
	if v, ok := dec.Metadata["vocab_size"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n != V {
			return b.contractError(dec, "vocab_size=%q does not match the %d tokens of %s", v, V, b.TokensPath)
		}
	}

	// Joiner: encoder_out, decoder_out float32 [N, J] → logit float32 [N, V].
	if len(join.Inputs) != 2 || len(join.Outputs) != 1 {
		return b.contractError(join, "want inputs encoder_out, decoder_out and one output logit")
	}
	for _, t := range append(append([]TensorInfo(nil), join.Inputs...), join.Outputs...) {
		if t.DType != "float32" || len(t.Shape) != 2 {
			return b.contractError(join, "%s must be float32 [N, dim]", t)
		}
	}
	if v := join.Outputs[0].Shape[1]; v >= 0 && v != int64(V) {
		if v > int64(V) {
			return b.contractError(join, "output %s scores %d tokens but %s has %d: token ids %d..%d would have no symbol",
				join.Outputs[0], v, b.TokensPath, V, V, v-1)
		}
		return b.contractError(join, "output %s scores %d tokens but %s has %d", join.Outputs[0], v, b.TokensPath, V)
	}
	p.VocabSize = V

	// Encoder: x float32 [N, T, 80] → encoder_out float32 [N, T', J], states.
	if len(enc.Inputs) < 1 || len(enc.Outputs) < 1 {
		return b.contractError(enc, "want input x and output encoder_out")
	}
	if f := enc.Metadata["feature"]; f != "" {
		return b.contractError(enc, "feature=%q features are not supported (want Kaldi fbank)", f)
	}
	if p.ChunkShift, err = b.metaInt(enc, "decode_chunk_len"); err != nil {
		return err
	}
	if p.ChunkFrames, err = b.metaInt(enc, "T"); err != nil {
		return err
	}
	switch {
	case p.ChunkShift < p.Subsampling || p.ChunkShift%p.Subsampling != 0:
		return b.contractError(enc, "decode_chunk_len %d is not a positive multiple of %d", p.ChunkShift, p.Subsampling)
	case p.ChunkFrames < p.ChunkShift || p.ChunkFrames > 100*p.ChunkShift:
		return b.contractError(enc, "T %d is not between decode_chunk_len %d and 100×", p.ChunkFrames, p.ChunkShift)
	}
	p.OutFrames = p.ChunkShift / p.Subsampling
	x, out := enc.Inputs[0], enc.Outputs[0]
	if x.DType != "float32" || len(x.Shape) != 3 {
		return b.contractError(enc, "input 0 %s must be float32 [N, T, %d]", x, p.FeatureDim)
	}
	if x.Shape[2] != int64(p.FeatureDim) {
		return b.contractError(enc, "input 0 %s takes %d-bin features, but icefall models take %d-bin Kaldi fbank", x, x.Shape[2], p.FeatureDim)
	}
	if x.Shape[1] >= 0 && x.Shape[1] != int64(p.ChunkFrames) {
		return b.contractError(enc, "input 0 %s takes %d frames but metadata T is %d", x, x.Shape[1], p.ChunkFrames)
	}
	if out.DType != "float32" || len(out.Shape) != 3 {
		return b.contractError(enc, "output 0 %s must be float32 [N, T', joiner_dim]", out)
	}
	if out.Shape[1] >= 0 && out.Shape[1] != int64(p.OutFrames) {
		return b.contractError(enc, "output 0 %s has %d frames per call, want decode_chunk_len/%d = %d", out, out.Shape[1], p.Subsampling, p.OutFrames)
	}

	// One joiner dim J everywhere it is declared.
	dims := []struct {
		m    ModelIO
		what string
		d    int64
	}{
		{enc, "encoder output 0 " + out.String(), out.Shape[2]},
		{dec, "decoder output 0 " + dec.Outputs[0].String(), dec.Outputs[0].Shape[1]},
		{join, "joiner input 0 " + join.Inputs[0].String(), join.Inputs[0].Shape[1]},
		{join, "joiner input 1 " + join.Inputs[1].String(), join.Inputs[1].Shape[1]},
	}
	if v, ok := join.Metadata["joiner_dim"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return b.contractError(join, "metadata joiner_dim=%q is not a positive integer", v)
		}
		p.JoinerDim = n
	}
	for _, d := range dims {
		switch {
		case d.d < 0:
		case p.JoinerDim == 0:
			p.JoinerDim = int(d.d)
		case d.d != int64(p.JoinerDim):
			return b.contractError(d.m, "%s has width %d but the joiner dim is %d", d.what, d.d, p.JoinerDim)
		}
	}
	if p.JoinerDim < 1 {
		return b.contractError(join, "the joiner dim is not declared (no joiner_dim metadata, all dims dynamic)")
	}

	// States, by position.
	want, err := b.stateLayout(p)
	if err != nil {
		return err
	}
	if p.States, p.MaxBatch, err = icefallStates(want, enc, b.Family, func(format string, args ...any) error {
		return b.contractError(enc, format, args...)
	}); err != nil {
		return err
	}
	p.EncoderDim, p.DecoderDim = p.JoinerDim, p.JoinerDim
	b.encBind = binding{nIn: len(enc.Inputs), nOut: len(enc.Outputs)}
	for j, s := range p.States {
		b.encBind.addState(j+1, j+1, s)
	}
	b.Params = p
	return nil
}

// icefallStates checks an icefall model's state inputs and outputs (all
// after input and output 0) against want, derived from its metadata: their
// number, dtypes and shapes, by position. It returns the states named as the
// session names them, and 1 when the model takes one stream per call.
func icefallStates(want []StateInfo, m ModelIO, family string, errf func(format string, args ...any) error) ([]StateInfo, int, error) {
	maxBatch := 0
	ins, outs := m.Inputs[1:], m.Outputs[1:]
	if len(ins) != len(want) || len(outs) != len(want) {
		return nil, 0, errf("the model has %d state inputs and %d state outputs, but its %s metadata gives %d states (%s)",
			len(ins), len(outs), family, len(want), missingState(want, ins, outs))
	}
	for j, w := range want {
		in, o := ins[j], outs[j]
		if in.DType != w.DType || o.DType != w.DType {
			return nil, 0, errf("state %d: input %s / output %s must be %s (%s)", j+1, in, o, w.DType, w.Name)
		}
		if len(in.Shape) != len(w.Shape) || len(o.Shape) != len(w.Shape) {
			return nil, 0, errf("state %d: input %s / output %s must have rank %d like %s%s", j+1, in, o, len(w.Shape), w.Name, shapeString(w))
		}
		for d := range w.Shape {
			if d == w.BatchAxis {
				if in.Shape[d] > 1 || o.Shape[d] > 1 {
					return nil, 0, errf("state %d %s: batch axis %d has fixed size %d (want dynamic or 1)", j+1, in, d, max(in.Shape[d], o.Shape[d]))
				}
				if in.Shape[d] == 1 || o.Shape[d] == 1 {
					maxBatch = 1
				}
				continue
			}
			if (in.Shape[d] >= 0 && in.Shape[d] != w.Shape[d]) || (o.Shape[d] >= 0 && o.Shape[d] != w.Shape[d]) {
				return nil, 0, errf("state %d: input %s / output %s do not match %s%s, derived from the metadata",
					j+1, in, o, w.Name, shapeString(w))
			}
		}
		w.Name = in.Name
		want[j] = w
	}
	if m.Inputs[0].Shape[0] == 1 || m.Outputs[0].Shape[0] == 1 {
		maxBatch = 1
	}
	return want, maxBatch, nil
}

// shapeString writes a state shape with N at its batch axis.
func shapeString(s StateInfo) string {
	dims := make([]string, len(s.Shape))
	for i, d := range s.Shape {
		if i == s.BatchAxis {
			dims[i] = "N"
		} else {
			dims[i] = strconv.FormatInt(d, 10)
		}
	}
	return "[" + strings.Join(dims, ",") + "]"
}

// missingState names the first expected state without an input or output.
func missingState(want []StateInfo, ins, outs []TensorInfo) string {
	has := func(ts []TensorInfo, name string) bool {
		for _, t := range ts {
			if t.Name == name {
				return true
			}
		}
		return false
	}
	for _, w := range want {
		if !has(ins, w.Name) {
			return "no input " + w.Name
		}
		if !has(outs, "new_"+w.Name) {
			return "no output new_" + w.Name
		}
	}
	return "extra states"
}

// stateLayout derives the encoder's state list from its metadata
// (MODEL-CONTRACT §1.2-§1.4), with the batch dim set to 1.
func (b *TransducerBundle) stateLayout(p TransducerParams) ([]StateInfo, error) {
	enc := b.Encoder
	var out []StateInfo
	add := func(name, dtype string, axis int, shape ...int) {
		s := StateInfo{Name: name, DType: dtype, BatchAxis: axis}
		for _, d := range shape {
			s.Shape = append(s.Shape, int64(d))
		}
		out = append(out, s)
	}
	lists := func(keys ...string) ([][]int, error) {
		var ls [][]int
		for _, k := range keys {
			l, err := b.metaInts(enc, k)
			if err != nil {
				return nil, err
			}
			if len(ls) > 0 && len(l) != len(ls[0]) {
				return nil, b.contractError(enc, "metadata %s lists %d stacks but %s lists %d", k, len(l), keys[0], len(ls[0]))
			}
			ls = append(ls, l)
		}
		return ls, nil
	}
	switch b.Family {
	case FamilyZipformer2:
		ls, err := lists("num_encoder_layers", "encoder_dims", "cnn_module_kernels", "left_context_len",
			"query_head_dims", "value_head_dims", "num_heads")
		if err != nil {
			return nil, err
		}
		layers, dims, kernels, left, qhd, vhd, heads := ls[0], ls[1], ls[2], ls[3], ls[4], ls[5], ls[6]
		k := 0
		for s, n := range layers {
			for range n {
				add(fmt.Sprintf("cached_key_%d", k), "float32", 1, left[s], 1, qhd[s]*heads[s])
				add(fmt.Sprintf("cached_nonlin_attn_%d", k), "float32", 1, 1, 1, left[s], 3*dims[s]/4)
				add(fmt.Sprintf("cached_val1_%d", k), "float32", 1, left[s], 1, vhd[s]*heads[s])
				add(fmt.Sprintf("cached_val2_%d", k), "float32", 1, left[s], 1, vhd[s]*heads[s])
				add(fmt.Sprintf("cached_conv1_%d", k), "float32", 0, 1, dims[s], kernels[s]/2)
				add(fmt.Sprintf("cached_conv2_%d", k), "float32", 0, 1, dims[s], kernels[s]/2)
				k++
			}
		}
		add("embed_states", "float32", 0, 1, 128, 3, ((p.FeatureDim-1)/2-1)/2)
		add("processed_lens", "int64", 0, 1)
	case FamilyZipformer:
		ls, err := lists("num_encoder_layers", "encoder_dims", "attention_dims", "cnn_module_kernels", "left_context_len")
		if err != nil {
			return nil, err
		}
		layers, dims, att, kernels, left := ls[0], ls[1], ls[2], ls[3], ls[4]
		for s := range layers {
			add(fmt.Sprintf("cached_len_%d", s), "int64", 1, layers[s], 1)
		}
		for s := range layers {
			add(fmt.Sprintf("cached_avg_%d", s), "float32", 1, layers[s], 1, dims[s])
		}
		for s := range layers {
			add(fmt.Sprintf("cached_key_%d", s), "float32", 2, layers[s], left[s], 1, att[s])
		}
		for s := range layers {
			add(fmt.Sprintf("cached_val_%d", s), "float32", 2, layers[s], left[s], 1, att[s]/2)
		}
		for s := range layers {
			add(fmt.Sprintf("cached_val2_%d", s), "float32", 2, layers[s], left[s], 1, att[s]/2)
		}
		for s := range layers {
			add(fmt.Sprintf("cached_conv1_%d", s), "float32", 1, layers[s], 1, dims[s], kernels[s]-1)
		}
		for s := range layers {
			add(fmt.Sprintf("cached_conv2_%d", s), "float32", 1, layers[s], 1, dims[s], kernels[s]-1)
		}
	case FamilyLSTM:
		var n, d, h int
		var err error
		if n, err = b.metaInt(enc, "num_encoder_layers"); err != nil {
			return nil, err
		}
		if d, err = b.metaInt(enc, "d_model"); err != nil {
			return nil, err
		}
		if h, err = b.metaInt(enc, "rnn_hidden_size"); err != nil {
			return nil, err
		}
		if n < 1 || d < 1 || h < 1 {
			return nil, b.contractError(enc, "num_encoder_layers %d, d_model %d, rnn_hidden_size %d must be positive", n, d, h)
		}
		add("state0", "float32", 1, n, 1, d)
		add("state1", "float32", 1, n, 1, h)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedModel, b.Family)
	}
	for _, s := range out {
		if s.Elements() < 1 || s.Elements() > 1<<28 {
			return nil, b.contractError(enc, "state %s%s from the metadata is empty or too large", s.Name, shapeString(s))
		}
	}
	return out, nil
}

// TransducerOptions configure a TransducerModel.
type TransducerOptions struct {
	Options
	// Search configures greedy or modified beam search (icefall models) or
	// NeMo greedy search (NeMo models: greedy only; Subsampling is set from
	// the model).
	Search transducer.Options
	// TailPadding is the number of silent feature frames a streamer appends
	// at Finish (0: DefaultTailPadding); at least T frames are appended.
	TailPadding int
}

// TransducerModel runs a transducer: one ONNX Runtime session each for the
// encoder, the decoder and the joiner. Its methods may be called from several
// goroutines; calls are serialised. It implements transducer.Net for icefall
// models; a NeMo model's stateful prediction network is run through
// transducer.StatefulNet.
type TransducerModel struct {
	b       *TransducerBundle
	p       TransducerParams
	enc     *runner
	dec     *ort.DynamicAdvancedSession
	join    *ort.DynamicAdvancedSession
	search  *transducer.Searcher
	tailPad int

	mu      sync.Mutex
	decIO   map[int]*rowsIO
	joinIO  map[int]*rowsIO
	nemoDec map[int]*nemoDecoderIO
	nemoJn  map[int]*nemoJoinerIO
	closed  bool
	encRuns int64
}

// rowsIO holds the decoder or joiner tensors of one row count.
type rowsIO struct {
	y      *ort.Tensor[int64]   // decoder input
	a, b   *ort.Tensor[float32] // joiner inputs
	out    *ort.Tensor[float32]
	in, os []ort.Value
}

func destroyValues(vs ...[]ort.Value) {
	for _, l := range vs {
		for _, v := range l {
			v.Destroy()
		}
	}
}

// NewTransducerModel creates the three sessions of the bundle and its search:
// for icefall models greedy or modified beam search as opts.Search says; for
// NeMo models NeMo greedy search (up to 10 symbols per frame by default;
// modified beam search is refused with transducer.ErrOptions).
func NewTransducerModel(b *TransducerBundle, opts TransducerOptions) (*TransducerModel, error) {
	if b == nil || b.Params.Family == "" {
		return nil, errors.New("onnx: NewTransducerModel needs a bundle from OpenTransducer")
	}
	m := &TransducerModel{b: b, p: b.Params, decIO: map[int]*rowsIO{}, joinIO: map[int]*rowsIO{},
		nemoDec: map[int]*nemoDecoderIO{}, nemoJn: map[int]*nemoJoinerIO{}}
	m.tailPad = opts.TailPadding
	if m.tailPad <= 0 {
		m.tailPad = DefaultTailPadding
	}
	m.tailPad = max(m.tailPad, m.p.ChunkFrames)
	opts.Search.Subsampling = m.p.Subsampling
	var err error
	if m.p.Family == FamilyNeMoTransducer {
		m.search, err = transducer.NewStateful(nemoNet{m}, b.Tokens, opts.Search)
	} else {
		m.search, err = transducer.New(m, b.Tokens, opts.Search)
	}
	if err != nil {
		return nil, err
	}
	so, err := sessionOptions(opts.Options)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	open := func(mio ModelIO) (*ort.DynamicAdvancedSession, error) {
		s, err := ort.NewDynamicAdvancedSession(mio.Path, tensorNames(mio.Inputs), tensorNames(mio.Outputs), so)
		if err != nil && isGPU(opts.Device) {
			return nil, fmt.Errorf("%w: %s: %s: %s", ErrDevice, opts.Device, mio.Path, oneLine(err))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s", ErrBundleModelInvalid, mio.Path, oneLine(err))
		}
		return s, nil
	}
	enc, err := open(b.Encoder)
	if err != nil {
		return nil, err
	}
	if m.dec, err = open(b.Decoder); err != nil {
		enc.Destroy()
		return nil, err
	}
	if m.join, err = open(b.Joiner); err != nil {
		enc.Destroy()
		m.dec.Destroy()
		return nil, err
	}
	m.enc = newRunner(b.Encoder.Path, enc, b.encBind, m.p.ChunkFrames, m.p.FeatureDim, m.p.OutFrames, m.p.EncoderDim, false)
	return m, nil
}

// Bundle returns the bundle the model was made from.
func (m *TransducerModel) Bundle() *TransducerBundle { return m.b }

// Params returns the model's streaming parameters.
func (m *TransducerModel) Params() TransducerParams { return m.p }

// Searcher returns the model's search.
func (m *TransducerModel) Searcher() *transducer.Searcher { return m.search }

// ContextSize is the decoder context C (transducer.Net).
func (m *TransducerModel) ContextSize() int { return m.p.ContextSize }

// VocabSize is V (transducer.Net).
func (m *TransducerModel) VocabSize() int { return m.p.VocabSize }

// JoinerDim is J (transducer.Net).
func (m *TransducerModel) JoinerDim() int { return m.p.JoinerDim }

// EncoderCalls is the number of encoder calls made.
func (m *TransducerModel) EncoderCalls() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.encRuns
}

// Close releases the sessions and tensors. Later calls fail with ErrClosed.
func (m *TransducerModel) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.dropTensors()
	return errors.Join(m.enc.close(), m.dec.Destroy(), m.join.Destroy())
}

func (m *TransducerModel) dropTensors() {
	for _, c := range []map[int]*rowsIO{m.decIO, m.joinIO} {
		for n, io := range c {
			destroyValues(io.in, io.os)
			delete(c, n)
		}
	}
	for n, io := range m.nemoDec {
		destroyValues(io.in, io.outs)
		delete(m.nemoDec, n)
	}
	for n, io := range m.nemoJn {
		destroyValues(io.in, io.out)
		delete(m.nemoJn, n)
	}
}

// EncoderState is the encoder state of one stream, zero at the start, plus
// a buffer for its latest encoder output.
type EncoderState struct {
	m    *TransducerModel
	f32  [][]float32 // per state; nil for int64 states
	i64  [][]int64   // per state; nil for float32 states
	out  []float32   // [T'][EncoderDim]
	home stateHome   // f32 and i64 for the runner, and where the state is resident
}

// NewEncoderState returns a zeroed state for one stream.
func (m *TransducerModel) NewEncoderState() *EncoderState {
	s := &EncoderState{m: m, out: make([]float32, m.p.OutFrames*m.p.EncoderDim)}
	s.f32, s.i64 = m.enc.newState()
	s.home = stateHome{f32: s.f32, i64: s.i64}
	return s
}

// Reset zeroes the state, as at the start of a stream.
func (s *EncoderState) Reset() {
	s.release()
	zeroState(s.f32, s.i64, s.out)
}

// release drops the state from the encoder's state tensors, where a
// TransducerScheduler may have left it, without reading it back.
func (s *EncoderState) release() { s.home.release(&s.m.mu) }

// RunEncoder makes one encoder call for len(states) streams. x holds their
// feature windows, [N,T,F] flattened (for NeMo too: the model's
// channels-first input is transposed here). The states are stacked along
// each state's batch axis, and the new states are scattered back into them.
// It returns each stream's encoder output, [T'][EncoderDim] flattened; these
// slices belong to the EncoderState and are overwritten by its next call.
func (m *TransducerModel) RunEncoder(x []float32, states []*EncoderState) ([][]float32, error) {
	n := len(states)
	w := m.p.ChunkFrames * m.p.FeatureDim
	if n > 0 && len(x) != n*w {
		return nil, fmt.Errorf("%w: x has %d values, want %d streams × %d frames × %d bins = %d",
			ErrBatch, len(x), n, m.p.ChunkFrames, m.p.FeatureDim, n*w)
	}
	out, _, err := m.runEncoder(states, nil, func(dst []float32) { copy(dst, x) })
	return out, err
}

// runEncoder is RunEncoder with the feature windows written by fill into
// the batched input ([N,T,F] flattened) and the outputs listed in out (of
// len(states); nil: a new slice). It also returns how long ONNX Runtime's
// Run took, without the stacking and scattering.
func (m *TransducerModel) runEncoder(states []*EncoderState, out [][]float32, fill func(x []float32)) ([][]float32, time.Duration, error) {
	n := len(states)
	if err := checkBatch(states, m.p.MaxBatch, "encoder", func(s *EncoderState) bool { return s.m == m }); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, 0, ErrClosed
	}
	if len(out) != n {
		out = make([][]float32, n)
	}
	err := m.enc.run(n, fill,
		func(i int) *stateHome { return &states[i].home },
		func(i int, frames []float32) {
			copy(states[i].out, frames)
			out[i] = states[i].out
		})
	if err != nil {
		return nil, 0, err
	}
	m.encRuns++
	return out, m.enc.lastRun, nil
}

// rows returns the cached decoder or joiner tensors for n rows.
func (m *TransducerModel) rows(cache map[int]*rowsIO, n int, decoder bool) (*rowsIO, error) {
	if io, ok := cache[n]; ok {
		return io, nil
	}
	if len(cache) >= maxCachedBatches {
		for k, io := range cache {
			destroyValues(io.in, io.os)
			delete(cache, k)
		}
	}
	io := &rowsIO{}
	fail := func(err error) (*rowsIO, error) {
		destroyValues(io.in, io.os)
		return nil, fmt.Errorf("onnx: tensors for %d rows: %w", n, err)
	}
	N, J := int64(n), int64(m.p.JoinerDim)
	var err error
	if decoder {
		if io.y, err = ort.NewEmptyTensor[int64](ort.NewShape(N, int64(m.p.ContextSize))); err != nil {
			return fail(err)
		}
		io.in = append(io.in, io.y)
		if io.out, err = ort.NewEmptyTensor[float32](ort.NewShape(N, J)); err != nil {
			return fail(err)
		}
	} else {
		if io.a, err = ort.NewEmptyTensor[float32](ort.NewShape(N, J)); err != nil {
			return fail(err)
		}
		io.in = append(io.in, io.a)
		if io.b, err = ort.NewEmptyTensor[float32](ort.NewShape(N, J)); err != nil {
			return fail(err)
		}
		io.in = append(io.in, io.b)
		if io.out, err = ort.NewEmptyTensor[float32](ort.NewShape(N, int64(m.p.VocabSize))); err != nil {
			return fail(err)
		}
	}
	io.os = append(io.os, io.out)
	cache[n] = io
	return io, nil
}

// RunDecoder runs the decoder on len(ctx)/C contexts (transducer.Net) and
// writes [rows][J] into out.
func (m *TransducerModel) RunDecoder(ctx []int64, out []float32) error {
	if m.p.Family == FamilyNeMoTransducer {
		return fmt.Errorf("%w: a NeMo prediction network takes a token and its LSTM state, not a context (its search runs it)", ErrBatch)
	}
	C, J := m.p.ContextSize, m.p.JoinerDim
	n := len(ctx) / C
	if n == 0 || len(ctx) != n*C || len(out) != n*J {
		return fmt.Errorf("%w: decoder: %d context ids and %d outputs for C=%d, J=%d", ErrBatch, len(ctx), len(out), C, J)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	io, err := m.rows(m.decIO, n, true)
	if err != nil {
		return err
	}
	copy(io.y.GetData(), ctx)
	if err := m.dec.Run(io.in, io.os); err != nil {
		return fmt.Errorf("onnx: %s: run (%d rows): %s", m.b.Decoder.Path, n, oneLine(err))
	}
	copy(out, io.out.GetData())
	return nil
}

// RunJoiner runs the joiner on rows (encoder frame, decoder output) pairs
// (transducer.Net) and writes the logits [rows][V] into out.
func (m *TransducerModel) RunJoiner(enc, dec, out []float32) error {
	if m.p.Family == FamilyNeMoTransducer {
		return fmt.Errorf("%w: a NeMo joiner takes [N,D,1] and [N,H,1] inputs (its search runs it)", ErrBatch)
	}
	J, V := m.p.JoinerDim, m.p.VocabSize
	n := len(enc) / J
	if n == 0 || len(enc) != n*J || len(dec) != n*J || len(out) != n*V {
		return fmt.Errorf("%w: joiner: %d encoder, %d decoder values and %d outputs for J=%d, V=%d", ErrBatch, len(enc), len(dec), len(out), J, V)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	io, err := m.rows(m.joinIO, n, false)
	if err != nil {
		return err
	}
	copy(io.a.GetData(), enc)
	copy(io.b.GetData(), dec)
	if err := m.join.Run(io.in, io.os); err != nil {
		return fmt.Errorf("onnx: %s: run (%d rows): %s", m.b.Joiner.Path, n, oneLine(err))
	}
	copy(out, io.out.GetData())
	return nil
}
