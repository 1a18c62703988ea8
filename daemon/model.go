package daemon

import (
	"fmt"
	"strings"

	"github.com/subtitled/subtitled/decoder/onnx"
)

// runModel is `subtitled model info DIR`. (`model pull` comes with the
// recognizer families; real models are downloaded by the user.)
func runModel(e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: model info DIR", errUsage)
	}
	switch args[0] {
	case "info":
		return runModelInfo(e, args[1:])
	default:
		return fmt.Errorf("%w: unknown model command %q (want info)", errUsage, args[0])
	}
}

func runModelInfo(e *env, args []string) error {
	fs := newFlagSet(e, "model info")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := ""
	switch fs.NArg() {
	case 0:
		d, err := findDemoModel()
		if err != nil {
			return err
		}
		dir = d
	case 1:
		dir = fs.Arg(0)
	default:
		return fmt.Errorf("%w: model info [DIR]", errUsage)
	}
	if err := onnx.Setup(); err != nil {
		return err
	}
	b, err := onnx.OpenBundle(dir)
	if err != nil {
		return err
	}
	c := b.Contract
	w := e.stdout
	fmt.Fprintf(w, "bundle:       %s (%s)\n", b.Name(), b.Dir)
	if b.Config.Demo {
		fmt.Fprintln(w, "note:         DEMO MODEL trained on synthetic speech only; not for real broadcasts")
	}
	fmt.Fprintf(w, "family:       %s v%d\n", c.Family, c.Version)
	fmt.Fprintf(w, "language:     %s\n", b.Config.Language)
	fmt.Fprintf(w, "features:     %s, %d bins, %d Hz\n", c.FeatureType, c.FeatureDim, c.SampleRate)
	fmt.Fprintf(w, "chunk:        %d frames in, shift %d (%d ms), subsampling %d → %d output frames per call\n",
		c.ChunkFrames, c.ChunkShift, c.ChunkShift*10, c.Subsampling, c.OutFrames())
	fmt.Fprintf(w, "vocabulary:   %d tokens (blank %d)\n", b.Tokens.Len(), c.BlankID)
	fmt.Fprintf(w, "heads:        verbatim (CTC)%s\n", "")
	var states []string
	var floats int64
	for i, t := range b.Inputs[1:] {
		n := int64(1)
		for j, d := range t.Shape {
			if j == c.StateBatchAxes[i] || d < 0 {
				continue
			}
			n *= d
		}
		floats += n
		states = append(states, t.String())
	}
	fmt.Fprintf(w, "states:       %d (%s)\n", len(states), strings.Join(states, ", "))
	fmt.Fprintf(w, "state/stream: %d floats (%d bytes)\n", floats, floats*4)
	if c.MaxBatch == 1 {
		fmt.Fprintln(w, "batch:        fixed at 1 stream per call")
	}
	return nil
}
