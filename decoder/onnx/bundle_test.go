package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// bundleWith makes a temporary copy of the tone bundle, then applies edit.
func bundleWith(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"model.onnx", "tokens.txt", "bundle.yaml"} {
		copyFile(t, filepath.Join(toneDir(), f), filepath.Join(dir, f))
	}
	if edit != nil {
		edit(dir)
	}
	return dir
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBundleErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
		want error
		msg  []string
	}{
		{"missing model", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "model.onnx")) },
			ErrBundleModelMissing, []string{"model.onnx", "no such file"}},
		{"missing tokens", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "tokens.txt")) },
			ErrBundleTokensMissing, []string{"tokens.txt"}},
		{"broken onnx", func(t *testing.T, d string) { write(t, filepath.Join(d, "model.onnx"), "not a protobuf at all") },
			ErrBundleModelInvalid, []string{"model.onnx"}},
		{"empty onnx", func(t *testing.T, d string) { write(t, filepath.Join(d, "model.onnx"), "") },
			ErrBundleModelInvalid, nil},
		{"bad tokens", func(t *testing.T, d string) { write(t, filepath.Join(d, "tokens.txt"), "<blk> 0\na 2\n") },
			ErrBundleTokens, []string{"tokens.txt", "1 is missing"}},
		{"vocab mismatch", func(t *testing.T, d string) {
			data, _ := os.ReadFile(filepath.Join(d, "tokens.txt"))
			lines := strings.SplitAfter(string(data), "\n")
			write(t, filepath.Join(d, "tokens.txt"), strings.Join(lines[:28], ""))
		}, ErrBundleContract, []string{"vocab_size 29", "28 tokens", "inputs: x[?,8,80]"}},
		{"unknown yaml key", func(t *testing.T, d string) { write(t, filepath.Join(d, "bundle.yaml"), "name: x\nmodle: y.onnx\n") },
			ErrBundleConfig, []string{"bundle.yaml", "modle"}},
		{"bad yaml", func(t *testing.T, d string) { write(t, filepath.Join(d, "bundle.yaml"), "name: [\n") },
			ErrBundleConfig, nil},
		{"yaml names a missing model", func(t *testing.T, d string) { write(t, filepath.Join(d, "bundle.yaml"), "model: enc.onnx\n") },
			ErrBundleModelMissing, []string{"enc.onnx"}},
		{"model is a directory", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, "model.onnx"))
			os.Mkdir(filepath.Join(d, "model.onnx"), 0o755)
		}, ErrBundleModelMissing, []string{"is a directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := bundleWith(t, func(d string) { tc.edit(t, d) })
			_, err := OpenBundle(dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			mustContain(t, err, tc.msg...)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestOpenBundleNotFound(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := OpenBundle(missing)
	if !errors.Is(err, ErrBundleNotFound) {
		t.Fatalf("err = %v", err)
	}
	mustContain(t, err, missing)
	file := filepath.Join(t.TempDir(), "file")
	write(t, file, "x")
	if _, err := OpenBundle(file); !errors.Is(err, ErrBundleNotFound) {
		t.Fatalf("file as bundle: %v", err)
	}
}

// Renamed files via bundle.yaml; no bundle.yaml at all.
func TestOpenBundleConfig(t *testing.T) {
	dir := bundleWith(t, func(d string) {
		os.Rename(filepath.Join(d, "model.onnx"), filepath.Join(d, "enc.onnx"))
		os.Rename(filepath.Join(d, "tokens.txt"), filepath.Join(d, "vocab.txt"))
		write(t, filepath.Join(d, "bundle.yaml"), "name: renamed\nlanguage: de\nmodel: enc.onnx\ntokens: vocab.txt\ndemo: true\n")
	})
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "renamed" || !b.Config.Demo || b.Config.Language != "de" || filepath.Base(b.ModelPath) != "enc.onnx" {
		t.Errorf("config %+v, model %s", b.Config, b.ModelPath)
	}
	dir = bundleWith(t, func(d string) { os.Remove(filepath.Join(d, "bundle.yaml")) })
	b, err = OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != filepath.Base(dir) {
		t.Errorf("Name without bundle.yaml = %q", b.Name())
	}
	dir = bundleWith(t, func(d string) { write(t, filepath.Join(d, "bundle.yaml"), "# only a comment\n") })
	if _, err := OpenBundle(dir); err != nil {
		t.Errorf("comment-only bundle.yaml: %v", err)
	}
}

// Each generated variant breaks the contract in one way; the error names it.
func TestOpenBundleContractViolations(t *testing.T) {
	tests := []struct {
		variant string
		want    error
		msg     []string
	}{
		// model_type zipformer2 with output 0 log_probs is icefall's zipformer2
		// CTC (§0), whose metadata this model lacks.
		{"wrong_model_type", ErrBundleContract, []string{"metadata decode_chunk_len is missing", "inputs: x[", "metadata keys: "}},
		{"no_model_type", ErrUnsupportedModel, []string{"no model_type", "supported: subtitled_ctc, zipformer2_ctc", "outputs: log_probs["}},
		{"bad_contract_version", ErrBundleContract, []string{"contract_version 2"}},
		{"bad_feature_type", ErrBundleContract, []string{`feature_type "nemo_mel"`}},
		{"feature_dim_mismatch", ErrBundleContract, []string{"feature_dim 40", "x[?,8,80]"}},
		{"chunk_frames_mismatch", ErrBundleContract, []string{"chunk_frames 16", "input 0"}},
		{"shift_not_multiple", ErrBundleContract, []string{"chunk_shift 6 is not a multiple of subsampling_factor 4"}},
		{"shift_over_frames", ErrBundleContract, []string{"chunk_shift 12 outside"}},
		{"missing_batch_axes", ErrBundleContract, []string{"state_batch_axes is missing", "2 states"}},
		{"batch_axes_count", ErrBundleContract, []string{`state_batch_axes="0" lists 1 axes for 2 states`}},
		{"batch_axis_range", ErrBundleContract, []string{"batch axis 3 out of range", "hist[2,?,28]"}},
		{"batch_axis_fixed_dim", ErrBundleContract, []string{"batch axis 2 has fixed size 28"}},
		{"vocab_size_mismatch", ErrBundleContract, []string{"vocab_size 30", "29 tokens"}},
		{"state_count_mismatch", ErrBundleContract, []string{"state count mismatch: 3 state inputs but 2 state outputs", "extra[?,3]"}},
		{"state_shape_mismatch", ErrBundleContract, []string{"state output 2 next_hist[2,?,28]", "input 2 hist[3,?,28]"}},
		{"state_dtype_mismatch", ErrBundleContract, []string{"state output 1 next_bg[?,1] float64", "dtype"}},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			dir := bundleWith(t, func(d string) {
				copyFile(t, filepath.Join("testdata", "variants", tc.variant+".onnx"), filepath.Join(d, "model.onnx"))
			})
			_, err := OpenBundle(dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			mustContain(t, err, tc.msg...)
		})
	}
}

func TestFindLibrary(t *testing.T) {
	bogus := filepath.Join(t.TempDir(), "no", LibraryName)
	t.Setenv(EnvLibrary, bogus)
	_, err := FindLibrary()
	if !errors.Is(err, ErrRuntimeMissing) {
		t.Fatalf("bogus %s: %v", EnvLibrary, err)
	}
	mustContain(t, err, EnvLibrary+"="+bogus, "make ort")
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("multi-line error %q", err)
	}

	// Search order without the variable: beside the executable, then the system paths.
	root := t.TempDir()
	exeDir := filepath.Join(root, "bin")
	sys1 := filepath.Join(root, "usr", "lib", LibraryName)
	sys2 := filepath.Join(root, "usr", "local", "lib", LibraryName)
	_, err = findLibrary("", exeDir, []string{sys1, sys2})
	if !errors.Is(err, ErrRuntimeMissing) {
		t.Fatalf("nothing there: %v", err)
	}
	mustContain(t, err, filepath.Join(exeDir, "..", "lib", LibraryName), sys1, sys2, "make ort", EnvLibrary)
	for _, p := range []string{sys2, sys1, filepath.Join(root, "lib", LibraryName)} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		write(t, p, "lib")
		got, err := findLibrary("", exeDir, []string{sys1, sys2})
		if err != nil || got != p {
			t.Errorf("with %s present: %q, %v", p, got, err)
		}
	}
	got, err := findLibrary(sys2, exeDir, []string{sys1})
	if err != nil || got != sys2 {
		t.Errorf("env wins: %q %v", got, err)
	}
	if _, err := findLibrary(root, exeDir, nil); !errors.Is(err, ErrRuntimeMissing) {
		t.Errorf("env naming a directory: %v", err)
	}
}

func TestInit(t *testing.T) {
	lib := filepath.Join(repoRoot, "lib", LibraryName)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = Init(lib) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Init #%d: %v", i, err)
		}
	}
	if !Initialized() || Setup() != nil {
		t.Error("not initialised after Init")
	}
	if v := Version(); !strings.HasPrefix(v, "1.") {
		t.Errorf("Version = %q", v)
	}
	other := filepath.Join(t.TempDir(), LibraryName)
	write(t, other, "x")
	mustContain(t, Init(other), "already initialised")
}
