package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Family names returned by DetectFamily, besides FamilySubtitledCTC. The
// icefall transducer names are their encoders' model_type metadata.
const (
	FamilyZipformer2    = "zipformer2"    // icefall streaming zipformer2 transducer (§1.2)
	FamilyZipformer     = "zipformer"     // icefall streaming zipformer v1 transducer (§1.3)
	FamilyLSTM          = "lstm"          // icefall LSTM transducer (§1.4)
	FamilyConformer     = "conformer"     // icefall streaming conformer transducer
	FamilyEbranchformer = "ebranchformer" // icefall streaming e-branchformer transducer
	// FamilyZipformer2CTC is icefall's streaming zipformer2 CTC (§1.4).
	FamilyZipformer2CTC = "zipformer2_ctc"
	// FamilyNeMoTransducer is a NeMo cache-aware transducer (§2.3).
	FamilyNeMoTransducer = "nemo_transducer"
	// FamilyNeMoCTC is a NeMo cache-aware CTC model (§2.4).
	FamilyNeMoCTC = "nemo_ctc"
	// FamilyNeMoParakeetUnified is NVIDIA's buffered parakeet-unified model (§2.5).
	FamilyNeMoParakeetUnified = "nemo_parakeet_unified_streaming"
)

// ErrAmbiguousModel means a bundle holds several candidate files for one role.
var ErrAmbiguousModel = errors.New("ambiguous model files")

// ModelIO is what an ONNX file declares: its session inputs and outputs and
// its custom metadata.
type ModelIO struct {
	Path     string
	Inputs   []TensorInfo
	Outputs  []TensorInfo
	Metadata map[string]string
}

// Describe lists the file, its inputs, outputs and metadata keys on one line.
func (m ModelIO) Describe() string {
	return filepath.Base(m.Path) + ": " + describe(m.Inputs, m.Outputs, m.Metadata)
}

// Detection is what DetectFamily found in a bundle directory.
type Detection struct {
	// Family is one of the Family* names.
	Family string
	// Transducer is true for encoder/decoder/joiner bundles.
	Transducer bool
	// Supported says whether this build runs the family: the single-file CTC
	// families (subtitled_ctc, zipformer2_ctc, nemo_ctc) with OpenBundle and
	// NewModel; the icefall zipformer2, zipformer and lstm transducers and
	// NeMo transducers (Nemotron included) with OpenTransducer and
	// NewTransducerModel.
	Supported bool
	// Encoder, Decoder and Joiner are set for transducers; Model for
	// single-file models.
	Encoder, Decoder, Joiner, Model ModelIO
}

// Describe lists every file's inputs, outputs and metadata keys.
func (d *Detection) Describe() string {
	var parts []string
	for _, m := range []ModelIO{d.Encoder, d.Decoder, d.Joiner, d.Model} {
		if m.Path != "" {
			parts = append(parts, m.Describe())
		}
	}
	return strings.Join(parts, " | ")
}

// DetectFamily tells the model family of the bundle in dir from its files'
// session inputs, outputs and metadata, as sherpa-onnx does (reference
// MODEL-CONTRACT §0):
//
//   - With encoder, decoder and joiner files, it is a transducer. A decoder
//     whose metadata has streaming_model_type=nemo_parakeet_unified_streaming
//     is NVIDIA's parakeet-unified; a decoder with one output is an icefall
//     stateless decoder, and the encoder's model_type names the family; a
//     decoder with more outputs (LSTM states) is a NeMo transducer.
//   - Otherwise the single model file (bundle.yaml model, default model.onnx)
//     is a CTC model: model_type=subtitled_ctc is this project's contract, an
//     input named cache_last_channel means NeMo CTC, and model_type=zipformer2
//     with output 0 named log_probs is icefall's zipformer2 CTC.
//
// A file for a role is <role>.onnx or else the only <role>*.onnx, the
// non-int8 one preferred when both are there (sherpa-onnx packages ship
// both). A family that is recognised but not supported is returned with
// Supported false and no error. An unknown model gives an error wrapping
// ErrUnsupportedModel that lists the inputs, outputs and metadata keys found.
func DetectFamily(dir string) (*Detection, error) {
	if err := isDir(dir); err != nil {
		return nil, err
	}
	if err := Setup(); err != nil {
		return nil, err
	}
	paths, err := transducerFiles(dir)
	if err != nil {
		return nil, err
	}
	if paths != nil {
		return detectTransducer(paths)
	}
	var cfg BundleConfig
	if err := readBundleConfig(filepath.Join(dir, "bundle.yaml"), &cfg); err != nil {
		return nil, err
	}
	path := bundlePath(dir, cfg.Model)
	if err := isFile(path); err != nil {
		return nil, fmt.Errorf("%w: %s has neither encoder/decoder/joiner files nor %s: %v",
			ErrBundleModelMissing, dir, cfg.Model, err)
	}
	m, err := inspectModel(path)
	if err != nil {
		return nil, err
	}
	d := &Detection{Model: m}
	if d.Family = singleFileFamily(m); d.Family == "" {
		return nil, fmt.Errorf("%w: %s: model_type %q is not a known single-file family (want %s, a NeMo CTC model with cache_last_channel, or zipformer2 with log_probs) (%s)",
			ErrUnsupportedModel, path, m.Metadata["model_type"], FamilySubtitledCTC, d.Describe())
	}
	d.Supported = true
	return d, nil
}

func isDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s does not exist", ErrBundleNotFound, dir)
		}
		return fmt.Errorf("%w: %v", ErrBundleNotFound, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrBundleNotFound, dir)
	}
	return nil
}

// transducerRoles are the files of a transducer bundle, in order.
var transducerRoles = []string{"encoder", "decoder", "joiner"}

// transducerFiles finds the encoder, decoder and joiner files of dir. It
// returns nil when there are none, and an error when only some are there.
func transducerFiles(dir string) ([]string, error) {
	var paths, missing []string
	for _, role := range transducerRoles {
		p, err := roleFile(dir, role)
		if err != nil {
			return nil, err
		}
		if p == "" {
			missing = append(missing, role)
		}
		paths = append(paths, p)
	}
	switch len(missing) {
	case 0:
		return paths, nil
	case len(transducerRoles):
		return nil, nil
	}
	return nil, fmt.Errorf("%w: %s looks like a transducer bundle but has no %s file (want %s.onnx or %s-*.onnx)",
		ErrBundleModelMissing, dir, strings.Join(missing, ", "), missing[0], missing[0])
}

// roleFile returns dir/<role>.onnx, else the single <role>*.onnx (preferring
// the one that is not int8), else "".
func roleFile(dir, role string) (string, error) {
	exact := filepath.Join(dir, role+".onnx")
	if isFile(exact) == nil {
		return exact, nil
	}
	all, err := filepath.Glob(filepath.Join(dir, role+"*.onnx"))
	if err != nil {
		return "", err
	}
	var files []string
	for _, p := range all {
		if isFile(p) == nil {
			files = append(files, p)
		}
	}
	if len(files) <= 1 {
		if len(files) == 1 {
			return files[0], nil
		}
		return "", nil
	}
	var fp32 []string
	for _, p := range files {
		if !strings.Contains(filepath.Base(p), ".int8.") {
			fp32 = append(fp32, p)
		}
	}
	if len(fp32) == 1 {
		return fp32[0], nil
	}
	names := make([]string, len(files))
	for i, p := range files {
		names[i] = filepath.Base(p)
	}
	return "", fmt.Errorf("%w: %s has %d %s files (%s); keep one, or name it %s.onnx",
		ErrAmbiguousModel, dir, len(files), role, strings.Join(names, ", "), role)
}

// detectTransducer applies the transducer rules of §0 to the three files.
func detectTransducer(paths []string) (*Detection, error) {
	d := &Detection{Transducer: true}
	var err error
	if d.Decoder, err = inspectModel(paths[1]); err != nil {
		return nil, err
	}
	if d.Encoder, err = inspectModel(paths[0]); err != nil {
		return nil, err
	}
	if d.Joiner, err = inspectModel(paths[2]); err != nil {
		return nil, err
	}
	switch {
	case d.Decoder.Metadata["streaming_model_type"] == "nemo_parakeet_unified_streaming":
		d.Family = FamilyNeMoParakeetUnified
		return d, nil
	case len(d.Decoder.Outputs) > 1:
		d.Family, d.Supported = FamilyNeMoTransducer, true
		return d, nil
	case len(d.Decoder.Outputs) == 0:
		return nil, fmt.Errorf("%w: %s has no outputs (%s)", ErrUnsupportedModel, d.Decoder.Path, d.Describe())
	}
	switch mt := d.Encoder.Metadata["model_type"]; mt {
	case FamilyZipformer2, FamilyZipformer, FamilyLSTM:
		d.Family, d.Supported = mt, true
	case FamilyConformer, FamilyEbranchformer:
		d.Family = mt
	case "":
		return nil, fmt.Errorf("%w: %s: icefall transducer encoder without model_type metadata (want %s, %s, %s, %s or %s) (%s)",
			ErrUnsupportedModel, d.Encoder.Path, FamilyZipformer2, FamilyZipformer, FamilyLSTM, FamilyConformer, FamilyEbranchformer, d.Describe())
	default:
		return nil, fmt.Errorf("%w: %s: unknown icefall transducer model_type %q (want %s, %s, %s, %s or %s) (%s)",
			ErrUnsupportedModel, d.Encoder.Path, mt, FamilyZipformer2, FamilyZipformer, FamilyLSTM, FamilyConformer, FamilyEbranchformer, d.Describe())
	}
	return d, nil
}
