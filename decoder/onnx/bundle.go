package onnx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
	"gopkg.in/yaml.v3"

	"github.com/subtitled/subtitled/decoder/ctc"
)

// Sentinel errors of OpenBundle. Each returned error wraps one of them and
// says what was found.
var (
	ErrBundleNotFound      = errors.New("model bundle not found")
	ErrBundleConfig        = errors.New("invalid bundle.yaml")
	ErrBundleModelMissing  = errors.New("model file missing")
	ErrBundleTokensMissing = errors.New("tokens file missing")
	ErrBundleTokens        = errors.New("invalid tokens file")
	ErrBundleModelInvalid  = errors.New("model file cannot be loaded")
	ErrUnsupportedModel    = errors.New("unsupported model family")
	ErrBundleContract      = errors.New("model does not follow its contract")
	ErrBundleDecoding      = errors.New("invalid lexicon, language model or decoding settings")
)

// Family names (ONNX metadata model_type).
const (
	FamilySubtitledCTC = "subtitled_ctc"
)

// DefaultPadValue is ln(FLT_EPSILON), the log-mel value of digital silence.
const DefaultPadValue = -15.9453

// BundleConfig is bundle.yaml. All keys are optional; unknown keys are errors.
type BundleConfig struct {
	Name     string `yaml:"name"`
	Language string `yaml:"language"`
	Model    string `yaml:"model"`
	Tokens   string `yaml:"tokens"`
	Demo     bool   `yaml:"demo"`
	// Lexicon names a word list (ctc.ParseLexicon) and LM an ARPA word
	// n-gram model, relative to the bundle. With either, CTC streams use
	// prefix beam search (ctc.Beam) instead of greedy search.
	Lexicon  string          `yaml:"lexicon"`
	LM       string          `yaml:"lm"`
	Decoding *DecodingConfig `yaml:"decoding"`
	// Heads lists extra output heads by track name (only "subtitle" is
	// known): more outputs of the same model, decoded alongside output 0.
	Heads map[string]*HeadConfig `yaml:"heads"`
}

// DecodingConfig is bundle.yaml's decoding block, the beam search settings
// used with a lexicon or LM. Absent keys take the defaults.
type DecodingConfig struct {
	Beam       int      `yaml:"beam"`        // prefixes kept per frame, default ctc.DefaultBeam
	LMWeight   *float64 `yaml:"lm_weight"`   // alpha, default DefaultLMWeight
	WordBonus  *float64 `yaml:"word_bonus"`  // beta, default DefaultWordBonus
	UnkPenalty *float64 `yaml:"unk_penalty"` // for words the LM cannot score, default DefaultUnkPenalty
}

// Defaults of DecodingConfig.
const (
	DefaultLMWeight   = 0.5
	DefaultWordBonus  = 0.0
	DefaultUnkPenalty = 10.0
)

// TensorInfo describes one model input or output. Dynamic dims are -1.
type TensorInfo struct {
	Name  string
	Shape []int64
	DType string // "float32", "int64", …; "" for non-tensors
}

func (t TensorInfo) String() string {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			dims[i] = "?"
		} else {
			dims[i] = strconv.FormatInt(d, 10)
		}
	}
	dt := t.DType
	if dt == "" {
		dt = "non-tensor"
	}
	return fmt.Sprintf("%s[%s] %s", t.Name, strings.Join(dims, ","), dt)
}

// Contract is the streaming contract of a single-file CTC model: the parsed
// subtitled_ctc v1 metadata (docs/MODEL-BUNDLES.md), or what the metadata and
// inputs of an icefall zipformer2 CTC or NeMo cache-aware CTC model give.
type Contract struct {
	Family      string // FamilySubtitledCTC, FamilyZipformer2CTC or FamilyNeMoCTC
	Version     int    // subtitled_ctc contract_version; 0 for the other families
	FeatureType string // "kaldi_fbank" or "nemo_fbank" (features.NeMoOptions)
	FeatureDim  int    // F
	SampleRate  int
	ChunkFrames int // T
	ChunkShift  int // S
	Subsampling int // R
	BlankID     int
	PadValue    float32
	// StateBatchAxes is the batch axis of every input after input 0 (for NeMo
	// the length input, batch axis 0, comes first).
	StateBatchAxes []int
	VocabSize      int // V
	// MaxBatch is 1 when the model was exported with a fixed batch of 1, else 0 (any).
	MaxBatch int
	// States are the state tensors fed back, in input order, with their
	// dtypes, per-stream shapes (batch axis 1) and batch axes.
	States []StateInfo
	// ResetOnEndpoint says whether an endpoint zeroes the states (NeMo, §1.9)
	// rather than keeping them (icefall, subtitled_ctc).
	ResetOnEndpoint bool
}

// OutFrames is the number of output frames per call, S/R.
func (c Contract) OutFrames() int { return c.ChunkShift / c.Subsampling }

// Bundle is an opened and validated model bundle.
type Bundle struct {
	Dir        string
	Config     BundleConfig // with defaults filled in
	ModelPath  string
	TokensPath string
	Tokens     *ctc.Tokens
	// LexiconPath and LMPath are set, and Lexicon and LM loaded, when
	// bundle.yaml names them.
	LexiconPath string
	LMPath      string
	Lexicon     *ctc.Lexicon
	LM          *ctc.LM
	Contract    Contract
	// Heads are the extra heads bundle.yaml lists (the subtitle head), in
	// track order; the verbatim head is output 0 and the fields above.
	Heads    []*Head
	Inputs   []TensorInfo
	Outputs  []TensorInfo      // every output of the model file, heads' included
	Metadata map[string]string // ONNX custom metadata

	outs   []TensorInfo // Outputs without the heads': what the family's contract binds by position
	bind   binding      // how the session's inputs and outputs are used
	logits bool         // output 0 holds logits to normalise (NeMo CTC)
}

// Name is the bundle's display name: bundle.yaml name, else the directory name.
func (b *Bundle) Name() string {
	if b.Config.Name != "" {
		return b.Config.Name
	}
	return filepath.Base(b.Dir)
}

// States is the number of state tensors K.
func (b *Bundle) States() int { return len(b.Contract.States) }

// Describe lists the model's inputs, outputs and metadata keys on one line.
func (b *Bundle) Describe() string {
	return describe(b.Inputs, b.Outputs, b.Metadata)
}

func describe(in, out []TensorInfo, meta map[string]string) string {
	list := func(ts []TensorInfo) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = t.String()
		}
		return strings.Join(s, ", ")
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return fmt.Sprintf("inputs: %s; outputs: %s; metadata keys: %s",
		list(in), list(out), strings.Join(keys, ", "))
}

// OpenBundle reads and validates the single-file CTC bundle in dir:
// bundle.yaml (optional), the token table, and the ONNX model's session
// inputs, outputs and metadata against the contract of its family
// (subtitled_ctc, icefall zipformer2 CTC or NeMo cache-aware CTC; see
// DetectFamily). It initialises ONNX Runtime with Setup when Init has not
// run.
func OpenBundle(dir string) (*Bundle, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrBundleNotFound, dir)
		}
		return nil, fmt.Errorf("%w: %v", ErrBundleNotFound, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrBundleNotFound, dir)
	}
	b := &Bundle{Dir: dir}
	if err := readBundleConfig(filepath.Join(dir, "bundle.yaml"), &b.Config); err != nil {
		return nil, err
	}
	b.ModelPath = bundlePath(dir, b.Config.Model)
	b.TokensPath = bundlePath(dir, b.Config.Tokens)
	if err := isFile(b.ModelPath); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBundleModelMissing, b.ModelPath, err)
	}
	if err := isFile(b.TokensPath); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBundleTokensMissing, b.TokensPath, err)
	}
	if b.Tokens, err = ctc.LoadTokens(b.TokensPath); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundleTokens, err)
	}
	if err := b.loadDecoding(); err != nil {
		return nil, err
	}
	if err := b.loadHeads(); err != nil {
		return nil, err
	}
	if err := Setup(); err != nil {
		return nil, err
	}
	if err := b.inspect(); err != nil {
		return nil, err
	}
	if err := b.splitHeadOutputs(); err != nil {
		return nil, err
	}
	if err := b.validate(); err != nil {
		if len(b.Heads) > 0 {
			return nil, fmt.Errorf("%w (bundle.yaml heads took %s out of the outputs before the family's were bound by position)",
				err, b.headOutputNames())
		}
		return nil, err
	}
	if err := b.validateHeads(); err != nil {
		return nil, err
	}
	return b, nil
}

func bundlePath(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

func readBundleConfig(path string, c *BundleConfig) error {
	*c = BundleConfig{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("%w: %v", ErrBundleConfig, err)
	default:
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %s: %s", ErrBundleConfig, path, oneLine(err))
		}
	}
	if c.Model == "" {
		c.Model = "model.onnx"
	}
	if c.Tokens == "" {
		c.Tokens = "tokens.txt"
	}
	return nil
}

// inspectOptions makes the throw-away sessions that read I/O info and
// metadata cheap: no graph optimisation, one thread.
func inspectOptions() (*ort.SessionOptions, error) {
	o, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	if err := o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		o.Destroy()
		return nil, err
	}
	if err := o.SetIntraOpNumThreads(1); err != nil {
		o.Destroy()
		return nil, err
	}
	return o, nil
}

// inspect reads the session's inputs, outputs and metadata.
func (b *Bundle) inspect() error {
	m, err := inspectModel(b.ModelPath)
	if err != nil {
		return err
	}
	b.Inputs, b.Outputs, b.Metadata = m.Inputs, m.Outputs, m.Metadata
	return nil
}

// inspectModel reads the inputs, outputs and custom metadata of the ONNX
// file at path.
func inspectModel(path string) (ModelIO, error) {
	m := ModelIO{Path: path}
	opts, err := inspectOptions()
	if err != nil {
		return m, fmt.Errorf("%w: %s: session options: %v", ErrBundleModelInvalid, path, err)
	}
	defer opts.Destroy()
	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, opts)
	if err != nil {
		return m, fmt.Errorf("%w: %s: %s", ErrBundleModelInvalid, path, oneLine(err))
	}
	m.Inputs, m.Outputs = tensorInfos(ins), tensorInfos(outs)
	md, err := ort.GetModelMetadataWithOptions(path, opts)
	if err != nil {
		return m, fmt.Errorf("%w: %s: metadata: %s", ErrBundleModelInvalid, path, oneLine(err))
	}
	defer md.Destroy()
	keys, err := md.GetCustomMetadataMapKeys()
	if err != nil {
		return m, fmt.Errorf("%w: %s: metadata keys: %s", ErrBundleModelInvalid, path, oneLine(err))
	}
	m.Metadata = make(map[string]string, len(keys))
	for _, k := range keys {
		v, ok, err := md.LookupCustomMetadataMap(k)
		if err != nil {
			return m, fmt.Errorf("%w: %s: metadata %q: %s", ErrBundleModelInvalid, path, k, oneLine(err))
		}
		if ok {
			m.Metadata[k] = v
		}
	}
	return m, nil
}

func tensorInfos(in []ort.InputOutputInfo) []TensorInfo {
	out := make([]TensorInfo, len(in))
	for i, t := range in {
		out[i] = TensorInfo{Name: t.Name}
		if t.OrtValueType == ort.ONNXTypeTensor {
			out[i].Shape = slices.Clone([]int64(t.Dimensions))
			out[i].DType = dtypeName(t.DataType)
		}
	}
	return out
}

func dtypeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeFloat16:
		return "float16"
	case ort.TensorElementDataTypeDouble:
		return "float64"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	case ort.TensorElementDataTypeInt32:
		return "int32"
	case ort.TensorElementDataTypeInt8:
		return "int8"
	case ort.TensorElementDataTypeUint8:
		return "uint8"
	case ort.TensorElementDataTypeBool:
		return "bool"
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "ONNX_TENSOR_ELEMENT_DATA_TYPE_"))
}

// validate checks the model against the contract of its family.
func (b *Bundle) validate() error {
	family := singleFileFamily(b.contractIO())
	switch family {
	case FamilySubtitledCTC:
		return b.validateSubtitledCTC()
	case FamilyZipformer2CTC:
		return b.validateZipformer2CTC()
	case FamilyNeMoCTC:
		return b.validateNeMoCTC()
	}
	supported := FamilySubtitledCTC + ", " + FamilyZipformer2CTC + " (model_type zipformer2, output 0 log_probs), " +
		FamilyNeMoCTC + " (an input named cache_last_channel)"
	if mt := b.Metadata["model_type"]; mt != "" {
		return fmt.Errorf("%w: %s has model_type %q (supported: %s) (%s)",
			ErrUnsupportedModel, b.ModelPath, mt, supported, b.Describe())
	}
	return fmt.Errorf("%w: %s has no model_type metadata (supported: %s) (%s)",
		ErrUnsupportedModel, b.ModelPath, supported, b.Describe())
}

// contractError builds one ErrBundleContract error naming the model and what was found.
func (b *Bundle) contractError(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s (%s)", ErrBundleContract, b.ModelPath,
		fmt.Sprintf(format, args...), b.Describe())
}

func (b *Bundle) metaInt(key string, required bool, def int) (int, error) {
	v, ok := b.Metadata[key]
	if !ok {
		if required {
			return 0, b.contractError("metadata %s is missing", key)
		}
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, b.contractError("metadata %s=%q is not an integer", key, v)
	}
	return n, nil
}

func (b *Bundle) validateSubtitledCTC() error {
	c := Contract{Family: FamilySubtitledCTC}
	var err error
	if c.Version, err = b.metaInt("contract_version", true, 0); err != nil {
		return err
	}
	if c.Version != 1 {
		return b.contractError("contract_version %d is not supported (want 1)", c.Version)
	}
	c.FeatureType = b.Metadata["feature_type"]
	if c.FeatureType != "kaldi_fbank" {
		return b.contractError("feature_type %q is not supported (want kaldi_fbank)", c.FeatureType)
	}
	ints := []struct {
		key      string
		dst      *int
		required bool
		def      int
	}{
		{"feature_dim", &c.FeatureDim, true, 0},
		{"chunk_frames", &c.ChunkFrames, true, 0},
		{"chunk_shift", &c.ChunkShift, true, 0},
		{"subsampling_factor", &c.Subsampling, true, 0},
		{"sample_rate", &c.SampleRate, false, 16000},
		{"blank_id", &c.BlankID, false, 0},
		{"vocab_size", &c.VocabSize, false, b.Tokens.Len()},
	}
	for _, f := range ints {
		if *f.dst, err = b.metaInt(f.key, f.required, f.def); err != nil {
			return err
		}
	}
	switch {
	case c.FeatureDim < 1:
		return b.contractError("feature_dim %d < 1", c.FeatureDim)
	case c.ChunkFrames < 1:
		return b.contractError("chunk_frames %d < 1", c.ChunkFrames)
	case c.ChunkShift < 1 || c.ChunkShift > c.ChunkFrames:
		return b.contractError("chunk_shift %d outside 1..chunk_frames (%d)", c.ChunkShift, c.ChunkFrames)
	case c.Subsampling < 1:
		return b.contractError("subsampling_factor %d < 1", c.Subsampling)
	case c.ChunkShift%c.Subsampling != 0:
		return b.contractError("chunk_shift %d is not a multiple of subsampling_factor %d", c.ChunkShift, c.Subsampling)
	case c.SampleRate != 16000:
		return b.contractError("sample_rate %d is not supported (want 16000)", c.SampleRate)
	}
	c.PadValue = DefaultPadValue
	if v, ok := b.Metadata["pad_value"]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return b.contractError("metadata pad_value=%q is not a finite number", v)
		}
		c.PadValue = float32(f)
	}
	V := b.Tokens.Len()
	if c.VocabSize != V {
		return b.contractError("vocab_size %d does not match the %d tokens of %s", c.VocabSize, V, b.TokensPath)
	}
	if c.BlankID < 0 || c.BlankID >= V {
		return b.contractError("blank_id %d outside the vocabulary 0..%d", c.BlankID, V-1)
	}

	// Input 0 and output 0.
	if len(b.Inputs) < 1 || len(b.outs) < 1 {
		return b.contractError("want at least one input (x) and one output (log_probs)")
	}
	x, lp := b.Inputs[0], b.outs[0]
	if x.DType != "float32" || len(x.Shape) != 3 {
		return b.contractError("input 0 %s must be float32 [N,T,F]", x)
	}
	if x.Shape[2] != int64(c.FeatureDim) {
		return b.contractError("feature_dim %d does not match the last dim of input 0 %s", c.FeatureDim, x)
	}
	if x.Shape[1] >= 0 && x.Shape[1] != int64(c.ChunkFrames) {
		return b.contractError("chunk_frames %d does not match dim 1 of input 0 %s", c.ChunkFrames, x)
	}
	if lp.DType != "float32" || len(lp.Shape) != 3 {
		return b.contractError("output 0 %s must be float32 [N,S/R,V]", lp)
	}
	if lp.Shape[1] >= 0 && lp.Shape[1] != int64(c.OutFrames()) {
		return b.contractError("output 0 %s has %d frames per call, want chunk_shift/subsampling_factor = %d",
			lp, lp.Shape[1], c.OutFrames())
	}
	if lp.Shape[2] >= 0 && lp.Shape[2] != int64(V) {
		return b.contractError("output 0 %s has %d classes but %s has %d tokens", lp, lp.Shape[2], b.TokensPath, V)
	}
	if fixedBatch(x.Shape[0]) || fixedBatch(lp.Shape[0]) {
		c.MaxBatch = 1
	}
	if x.Shape[0] > 1 || lp.Shape[0] > 1 {
		return b.contractError("batch dim of input 0 %s / output 0 %s must be dynamic or 1", x, lp)
	}

	// States.
	k := len(b.Inputs) - 1
	if len(b.outs)-1 != k {
		return b.contractError("state count mismatch: %d state inputs but %d state outputs%s", k, len(b.outs)-1, b.headHint(k))
	}
	if k > 0 {
		v, ok := b.Metadata["state_batch_axes"]
		if !ok {
			return b.contractError("metadata state_batch_axes is missing (the model has %d states)", k)
		}
		for _, f := range strings.Split(v, ",") {
			a, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return b.contractError("state_batch_axes=%q: %q is not an integer", v, f)
			}
			c.StateBatchAxes = append(c.StateBatchAxes, a)
		}
		if len(c.StateBatchAxes) != k {
			return b.contractError("state_batch_axes=%q lists %d axes for %d states", v, len(c.StateBatchAxes), k)
		}
	}
	for j := 1; j <= k; j++ {
		in, out, axis := b.Inputs[j], b.outs[j], c.StateBatchAxes[j-1]
		if in.DType != "float32" {
			return b.contractError("state input %d %s must be float32", j, in)
		}
		if out.DType != in.DType {
			return b.contractError("state output %d %s does not match the dtype of input %d %s", j, out, j, in)
		}
		if axis < 0 || axis >= len(in.Shape) {
			return b.contractError("state %d %s: batch axis %d out of range", j, in, axis)
		}
		if len(out.Shape) != len(in.Shape) {
			return b.contractError("state output %d %s does not match the shape of input %d %s", j, out, j, in)
		}
		if in.Shape[axis] > 1 || out.Shape[axis] > 1 {
			return b.contractError("state %d %s: batch axis %d has fixed size %d (want dynamic or 1)",
				j, in, axis, max(in.Shape[axis], out.Shape[axis]))
		}
		if fixedBatch(in.Shape[axis]) || fixedBatch(out.Shape[axis]) {
			c.MaxBatch = 1
		}
		for d := range in.Shape {
			if d == axis {
				continue
			}
			if in.Shape[d] < 1 {
				return b.contractError("state %d %s: dim %d is dynamic or empty; only the batch axis (%d) may be", j, in, d, axis)
			}
			// A dynamic output dim is checked by ONNX Runtime at run time
			// against the preallocated output.
			if out.Shape[d] >= 0 && out.Shape[d] != in.Shape[d] {
				return b.contractError("state output %d %s does not match the shape of input %d %s", j, out, j, in)
			}
		}
	}
	b.bind = binding{nIn: len(b.Inputs), nOut: len(b.outs)}
	for j := 1; j <= k; j++ {
		shape := slices.Clone(b.Inputs[j].Shape)
		shape[c.StateBatchAxes[j-1]] = 1
		b.bind.addState(j, j, StateInfo{Name: b.Inputs[j].Name, DType: "float32", Shape: shape, BatchAxis: c.StateBatchAxes[j-1]})
	}
	c.States = b.bind.stateInfos()
	b.Contract = c
	return nil
}

func fixedBatch(d int64) bool { return d == 1 }

// loadDecoding reads the lexicon and LM that bundle.yaml names and checks
// the decoding block.
func (b *Bundle) loadDecoding() error {
	c := &b.Config
	d, err := loadDecodingFiles(b.Dir, "", c.Lexicon, c.LM, c.Decoding, b.Tokens, b.TokensPath)
	if err != nil {
		return err
	}
	b.LexiconPath, b.LMPath, b.Lexicon, b.LM = d.lexPath, d.lmPath, d.lex, d.lm
	return nil
}

// BeamOptions returns the beam search settings of the bundle; ok is false
// when it names neither a lexicon nor an LM (greedy search).
func (b *Bundle) BeamOptions() (opt ctc.BeamOptions, ok bool) {
	return beamOptions(b.Lexicon, b.LM, b.Config.Decoding)
}
