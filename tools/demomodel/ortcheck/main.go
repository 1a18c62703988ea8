// Command ortcheck runs an exported demo model through the daemon's runner (decoder/onnx) on the test vectors
// written by tools/demomodel/export.py and compares its log-probs with torch's.
//
// It streams the way the daemon does: the states fed to call c+1 are ONNX Runtime's own
// outputs of call c, not torch's, so drift would accumulate and show. It runs the streams
// twice: all of them in one batch per call, and each alone (batch 1). With -ref it runs
// a second bundle (for example the previous export of the same weights) the same two
// ways and compares the two models' log-probs as well.
//
// Batched and solo runs of one bundle must agree within -tol (exactly, for the
// shipped model: a stream's output never depends on its batch). Comparisons
// with torch (fp32) use -torch-tol, which an int8 export needs raised; each
// line also gives the share of frames whose most likely token agrees.
//
//	SUBTITLED_ORT_LIB=$PWD/lib/libonnxruntime.so.1 go run ./tools/demomodel/ortcheck \
//	    -vectors tools/demomodel/work/ortcheck -bundle models/demo-en [-ref OLD_BUNDLE] \
//	    [-torch-tol 1.5]
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/subtitled/subtitled/decoder/onnx"
)

type tensorFile struct {
	File  string  `json:"file"`
	Shape []int64 `json:"shape"`
}

type manifest struct {
	Model    string `json:"model"`
	Features string `json:"features"`
	Calls    []struct {
		Inputs  []tensorFile `json:"inputs"`
		Outputs []tensorFile `json:"outputs"`
	} `json:"calls"`
}

func readF32(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read vector: %w", err)
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: size %d is not a multiple of 4", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

func main() {
	vectors := flag.String("vectors", "tools/demomodel/work/ortcheck", "directory with manifest.json")
	bundle := flag.String("bundle", "models/demo-en", "exported model bundle to check")
	ref := flag.String("ref", "", "optional second bundle whose log-probs must match (for example the previous export)")
	tol := flag.Float64("tol", 1e-4, "maximum allowed absolute difference between runs of the bundles")
	torchTol := flag.Float64("torch-tol", 1e-4, "maximum allowed absolute difference from torch's fp32 log-probs (raise it for a quantised export)")
	flag.Parse()
	if err := run(*vectors, *bundle, *ref, *tol, *torchTol); err != nil {
		fmt.Fprintln(os.Stderr, "ortcheck:", err)
		os.Exit(1)
	}
}

// vectors are export.py's test vectors: per call the stacked feature windows
// of all n streams and torch's log-probs.
type vectors struct {
	n      int
	vocab  int         // log-prob values per output frame
	x, lp  [][]float32 // per call, [n][...] flattened
	source string
}

func load(dir string) (*vectors, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if len(m.Calls) == 0 {
		return nil, errors.New("manifest has no calls")
	}
	outShape := m.Calls[0].Outputs[0].Shape
	v := &vectors{n: int(m.Calls[0].Inputs[0].Shape[0]), vocab: int(outShape[len(outShape)-1]), source: m.Features}
	if v.source == "" {
		v.source = "random"
	}
	for _, call := range m.Calls {
		x, err := readF32(filepath.Join(dir, call.Inputs[0].File))
		if err != nil {
			return nil, err
		}
		lp, err := readF32(filepath.Join(dir, call.Outputs[0].File))
		if err != nil {
			return nil, err
		}
		if len(x)%v.n != 0 || len(lp)%v.n != 0 {
			return nil, fmt.Errorf("%s: sizes %d, %d not multiples of %d streams", call.Inputs[0].File, len(x), len(lp), v.n)
		}
		v.x, v.lp = append(v.x, x), append(v.lp, lp)
	}
	return v, nil
}

// stream runs the vectors' calls through a bundle in the daemon's runner, all
// streams in one batch per call when batched, else each stream alone, and
// returns the log-probs per call, streams stacked as in the vectors.
func stream(bundle string, v *vectors, batched bool) ([][]float32, error) {
	bd, err := onnx.OpenBundle(bundle)
	if err != nil {
		return nil, err
	}
	model, err := onnx.NewModel(bd, onnx.Options{})
	if err != nil {
		return nil, err
	}
	defer model.Close()
	states := make([]*onnx.StreamState, v.n)
	for i := range states {
		states[i] = model.NewStreamState()
	}
	out := make([][]float32, len(v.x))
	for c, x := range v.x {
		per := len(x) / v.n
		var got [][]float32
		if batched {
			if got, err = model.Run(x, states); err != nil {
				return nil, fmt.Errorf("%s call %d: %w", bundle, c, err)
			}
		} else {
			for s := range states {
				lp, err := model.Run(x[s*per:(s+1)*per], states[s:s+1])
				if err != nil {
					return nil, fmt.Errorf("%s call %d stream %d: %w", bundle, c, s, err)
				}
				got = append(got, lp[0])
			}
		}
		for _, g := range got {
			out[c] = append(out[c], g...)
		}
	}
	return out, nil
}

// maxDiff is the largest absolute difference of two call sequences, per call.
func maxDiff(a, b [][]float32) ([]float64, error) {
	d := make([]float64, len(a))
	for c := range a {
		if len(a[c]) != len(b[c]) {
			return nil, fmt.Errorf("call %d: %d log-probs, want %d", c, len(a[c]), len(b[c]))
		}
		for i := range a[c] {
			d[c] = math.Max(d[c], math.Abs(float64(a[c][i]-b[c][i])))
		}
	}
	return d, nil
}

// argmaxAgree is the share of output frames (rows of vocab values) whose
// most likely token is the same in a and b.
func argmaxAgree(a, b [][]float32, vocab int) float64 {
	same, all := 0, 0
	for c := range a {
		for off := 0; off+vocab <= len(a[c]) && off+vocab <= len(b[c]); off += vocab {
			if argmax(a[c][off:off+vocab]) == argmax(b[c][off:off+vocab]) {
				same++
			}
			all++
		}
	}
	if all == 0 {
		return 0
	}
	return float64(same) / float64(all)
}

func argmax(row []float32) int {
	best := 0
	for i, x := range row {
		if x > row[best] {
			best = i
		}
	}
	return best
}

// run streams the vectors through the daemon's own runner (decoder/onnx):
// states stay inside the runner from call to call, so any state mismatch
// shows up in the log-probs of the following calls.
func run(dir, bundle, ref string, tol, torchTol float64) error {
	v, err := load(dir)
	if err != nil {
		return err
	}
	fmt.Printf("%d streams x %d calls, features: %s\n", v.n, len(v.x), v.source)
	type result struct{ name, a, b string }
	runs := map[string][][]float32{"torch": v.lp}
	bundles := []string{bundle}
	if ref != "" {
		bundles = append(bundles, ref)
	}
	for _, bd := range bundles {
		for _, batched := range []bool{true, false} {
			name := fmt.Sprintf("%s batch %d", bd, v.n)
			if !batched {
				name = bd + " batch 1"
			}
			if runs[name], err = stream(bd, v, batched); err != nil {
				return err
			}
		}
	}
	cmp := []result{
		{"bundle batched vs torch", fmt.Sprintf("%s batch %d", bundle, v.n), "torch"},
		{"bundle solo vs torch", bundle + " batch 1", "torch"},
		{"bundle batched vs solo", fmt.Sprintf("%s batch %d", bundle, v.n), bundle + " batch 1"},
	}
	if ref != "" {
		cmp = append(cmp,
			result{"bundle vs ref, batched", fmt.Sprintf("%s batch %d", bundle, v.n), fmt.Sprintf("%s batch %d", ref, v.n)},
			result{"bundle vs ref, solo", bundle + " batch 1", ref + " batch 1"},
			result{"ref batched vs torch", fmt.Sprintf("%s batch %d", ref, v.n), "torch"})
	}
	failed := false
	for _, r := range cmp {
		d, err := maxDiff(runs[r.a], runs[r.b])
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		w, at := 0.0, 0
		for c, x := range d {
			if x > w {
				w, at = x, c
			}
		}
		limit := tol
		if r.b == "torch" {
			limit = torchTol
		}
		verdict := "ok"
		if w > limit {
			verdict, failed = "FAIL", true
		}
		fmt.Printf("%-26s max abs diff %.2e (call %d of %d, tolerance %.1e, %s), same arg-max %.2f %%   [%s vs %s]\n",
			r.name, w, at, len(d), limit, verdict, 100*argmaxAgree(runs[r.a], runs[r.b], v.vocab), r.a, r.b)
	}
	if failed {
		return errors.New("log-probs differ by more than the tolerance")
	}
	return nil
}
