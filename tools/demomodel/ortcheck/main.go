// Command ortcheck runs an exported demo model with ONNX Runtime on the test vectors
// written by tools/demomodel/export.py and compares every output with torch's.
//
// It streams the way the daemon does: the states fed to call c+1 are ONNX Runtime's own
// outputs of call c, not torch's, so drift would accumulate and show.
//
//	go run ./tools/demomodel/ortcheck -vectors tools/demomodel/work/ortcheck \
//	    -ort lib/libonnxruntime.so.1
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

	ort "github.com/yalue/onnxruntime_go"
)

type tensorFile struct {
	File  string  `json:"file"`
	Shape []int64 `json:"shape"`
}

type manifest struct {
	Model string `json:"model"`
	Calls []struct {
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
	lib := flag.String("ort", "lib/libonnxruntime.so.1", "ONNX Runtime shared library")
	model := flag.String("model", "", "model to check (default: the one named in the manifest)")
	tol := flag.Float64("tol", 1e-4, "maximum allowed absolute difference")
	flag.Parse()
	if err := run(*vectors, *lib, *model, *tol); err != nil {
		fmt.Fprintln(os.Stderr, "ortcheck:", err)
		os.Exit(1)
	}
}

func run(dir, lib, model string, tol float64) error {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if model == "" {
		model = m.Model
	}
	if len(m.Calls) == 0 {
		return errors.New("manifest has no calls")
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(); err != nil {
		return fmt.Errorf("init onnxruntime: %w", err)
	}
	defer ort.DestroyEnvironment()
	ins, outs, err := ort.GetInputOutputInfo(model)
	if err != nil {
		return fmt.Errorf("model info: %w", err)
	}
	var inNames, outNames []string
	for _, i := range ins {
		inNames = append(inNames, i.Name)
	}
	for _, o := range outs {
		outNames = append(outNames, o.Name)
	}
	sess, err := ort.NewDynamicAdvancedSession(model, inNames, outNames, nil)
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer sess.Destroy()

	var states [][]float32 // ONNX Runtime's own next states
	worst := 0.0
	for c, call := range m.Calls {
		inputs := make([]ort.Value, len(call.Inputs))
		for j, tf := range call.Inputs {
			data, err := readF32(filepath.Join(dir, tf.File))
			if err != nil {
				return err
			}
			if j > 0 && c > 0 {
				data = states[j-1]
			}
			t, err := ort.NewTensor(ort.NewShape(tf.Shape...), data)
			if err != nil {
				return fmt.Errorf("input tensor: %w", err)
			}
			defer t.Destroy()
			inputs[j] = t
		}
		outputs := make([]ort.Value, len(outNames))
		if err := sess.Run(inputs, outputs); err != nil {
			return fmt.Errorf("call %d: %w", c, err)
		}
		states = states[:0]
		for j, tf := range call.Outputs {
			want, err := readF32(filepath.Join(dir, tf.File))
			if err != nil {
				return err
			}
			got := outputs[j].(*ort.Tensor[float32]).GetData()
			if len(got) != len(want) {
				return fmt.Errorf("call %d output %d: %d values, want %d (shape %v vs %v)",
					c, j, len(got), len(want), outputs[j].GetShape(), tf.Shape)
			}
			d := 0.0
			for i := range got {
				d = math.Max(d, math.Abs(float64(got[i]-want[i])))
			}
			worst = math.Max(worst, d)
			fmt.Printf("call %d output %d (%s) shape %v: max abs diff %.2e\n", c, j, outNames[j], outputs[j].GetShape(), d)
			if j > 0 {
				states = append(states, append([]float32(nil), got...))
			}
			defer outputs[j].Destroy()
		}
	}
	fmt.Printf("worst max abs diff %.2e (tolerance %.0e)\n", worst, tol)
	if worst > tol {
		return fmt.Errorf("ONNX Runtime differs from torch by %.2e", worst)
	}
	return nil
}
