package daemon_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/tools/testenv"
	"github.com/subtitled/subtitled/tools/tonegen"
)

// binary is bin/subtitled built for this test run.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "subtitled-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root := testenv.Path()
	binary = filepath.Join(dir, "bin", "subtitled")
	build := exec.Command("go", "build", "-o", binary, "./cmd/subtitled")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building subtitled: %v\n%s", err, out)
		return 1
	}
	lib := filepath.Join(root, "lib", "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		fmt.Fprintf(os.Stderr, "ONNX Runtime missing at %s: run `make ort`\n", lib)
		return 1
	}
	// The binary finds lib/ beside its bin/ directory, as after `make install`.
	if err := os.Symlink(filepath.Join(root, "lib"), filepath.Join(dir, "lib")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Unsetenv("SUBTITLED_ORT_LIB")
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "%s is required by the end-to-end tests (tools/setup-debian.sh installs it)\n", tool)
			return 1
		}
	}
	return m.Run()
}

func toneModelDir() string { return testenv.Path("testdata", "models", "tone") }

// speech is tone-alphabet audio for sentences separated by long pauses, with
// the sample index of every sentence's first word.
type speech struct {
	wav       []byte
	pcm       []float32
	rate      int
	sentences []string
	onsets    []int // per sentence, in samples
	samples   int
}

// spellSentences synthesises the sentences with pause seconds of silence
// after each (long enough for an endpoint).
func spellSentences(t *testing.T, rate int, pause float64, sentences ...string) *speech {
	t.Helper()
	tab, err := tonegen.Load(filepath.Join(toneModelDir(), "tones.json"))
	if err != nil {
		t.Fatal(err)
	}
	sp := &speech{rate: rate, sentences: sentences}
	var all []float32
	for _, s := range sentences {
		sp1, err := tab.Spell(s, rate, pause)
		if err != nil {
			t.Fatal(err)
		}
		sp.onsets = append(sp.onsets, len(all)+sp1.WordOnsets[0])
		all = append(all, sp1.Samples...)
	}
	sp.samples = len(all)
	sp.pcm = all
	sp.wav = tonegen.WAV(all, rate)
	return sp
}

// ffmpeg runs ffmpeg quietly and fails the test with its output on error.
func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// jsonCue is one line of `transcribe --format json`.
type jsonCue struct {
	ID    uint64   `json:"id"`
	Track string   `json:"track"`
	Lines []string `json:"lines"`
	Start float64  `json:"start"`
	End   float64  `json:"end"`
}

func parseJSONCues(t *testing.T, out []byte) []jsonCue {
	t.Helper()
	var cues []jsonCue
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var c jsonCue
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		cues = append(cues, c)
	}
	return cues
}

// subtitled runs the binary and returns stdout, stderr and the exit code.
func subtitled(t *testing.T, stdin []byte, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.Bytes(), e.Bytes(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.Bytes(), e.Bytes(), 0
}
