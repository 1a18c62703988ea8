// Command ortcheck runs an exported demo model through the daemon's runner (decoder/onnx) on the test vectors
// written by tools/demomodel/export.py and compares its log-probs with torch's.
//
// It streams the way the daemon does: the states fed to call c+1 are ONNX Runtime's own
// outputs of call c, not torch's, so drift would accumulate and show.
//
//	SUBTITLED_ORT_LIB=$PWD/lib/libonnxruntime.so.1 go run ./tools/demomodel/ortcheck \
//	    -vectors tools/demomodel/work/ortcheck -bundle models/demo-en
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
	bundle := flag.String("bundle", "models/demo-en", "exported model bundle to check")
	tol := flag.Float64("tol", 1e-4, "maximum allowed absolute difference")
	flag.Parse()
	if err := run(*vectors, *bundle, *tol); err != nil {
		fmt.Fprintln(os.Stderr, "ortcheck:", err)
		os.Exit(1)
	}
}

// run streams the vectors through the daemon's own runner (decoder/onnx):
// states stay inside the runner from call to call, so any state mismatch
// shows up in the log-probs of the following calls.
func run(dir, bundle string, tol float64) error {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if len(m.Calls) == 0 {
		return errors.New("manifest has no calls")
	}
	bd, err := onnx.OpenBundle(bundle)
	if err != nil {
		return err
	}
	model, err := onnx.NewModel(bd, onnx.Options{})
	if err != nil {
		return err
	}
	defer model.Close()
	n := int(m.Calls[0].Inputs[0].Shape[0])
	streams := make([]*onnx.StreamState, n)
	for i := range streams {
		streams[i] = model.NewStreamState()
	}
	worst := 0.0
	for c, call := range m.Calls {
		x, err := readF32(filepath.Join(dir, call.Inputs[0].File))
		if err != nil {
			return err
		}
		got, err := model.Run(x, streams)
		if err != nil {
			return fmt.Errorf("call %d: %w", c, err)
		}
		want, err := readF32(filepath.Join(dir, call.Outputs[0].File))
		if err != nil {
			return err
		}
		per := len(want) / n
		d := 0.0
		for s := range got {
			if len(got[s]) != per {
				return fmt.Errorf("call %d stream %d: %d log-probs, want %d", c, s, len(got[s]), per)
			}
			for i, v := range got[s] {
				d = math.Max(d, math.Abs(float64(v-want[s*per+i])))
			}
		}
		worst = math.Max(worst, d)
		fmt.Printf("call %d: max abs diff %.2e\n", c, d)
	}
	fmt.Printf("worst max abs diff %.2e (tolerance %.0e)\n", worst, tol)
	if worst > tol {
		return fmt.Errorf("the daemon's runner differs from torch by %.2e", worst)
	}
	return nil
}
