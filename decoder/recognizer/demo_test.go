package recognizer

import (
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/endpoint"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/ingest/wav"
	"github.com/subtitled/subtitled/tools/testenv"
)

// speech16k synthesises text with espeak-ng and returns it at 16 kHz mono.
func speech16k(t *testing.T, text string) []float32 {
	t.Helper()
	dir := t.TempDir()
	raw, out := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "16k.wav")
	if b, err := exec.Command("espeak-ng", "-v", "en-us", "-s", "160", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng (Debian package espeak-ng): %v\n%s", err, b)
	}
	if b, err := exec.Command("sox", raw, "-r", "16000", "-c", "1", "-b", "16", out, "pad", "0.2", "1.0").CombinedOutput(); err != nil {
		t.Fatalf("sox (Debian package sox): %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := wav.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var all []float32
	buf := make([]float32, 4096)
	for {
		n, err := r.Read(buf)
		all = append(all, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// demoRun decodes samples fed in the given piece sizes (cycled) and returns
// every final result.
func demoRun(t *testing.T, m *onnx.Model, sched *onnx.Scheduler, samples []float32, pieces []int) []decoder.Result {
	t.Helper()
	return demoRunOpts(t, m, Options{Scheduler: sched}, samples, pieces)
}

func demoRunOpts(t *testing.T, m *onnx.Model, opts Options, samples []float32, pieces []int) []decoder.Result {
	t.Helper()
	var out []decoder.Result
	r, err := New(m, opts, func(res decoder.Result) {
		if res.Final {
			out = append(out, res)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for off, i := 0, 0; off < len(samples); i++ {
		n := min(pieces[i%len(pieces)], len(samples)-off)
		feed(t, r, samples[off:off+n], int64(off)*90000/16000, n, false)
		off += n
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDemoModelStreamingEqualsOffline: the shipped demo model gives the same
// words and word times however its audio is grouped: all at once, in 10 ms
// frames, in random pieces, and batched through the scheduler beside other
// streams. (Model calls always cover whole chunks; the model is causal, so
// its export check in torch already showed chunked = whole-sequence output.)
func TestDemoModelStreamingEqualsOffline(t *testing.T) {
	m := openModel(t, testenv.Path("models", "demo-en"))
	samples := speech16k(t, "and now the weather for the south and the capital")
	whole := demoRun(t, m, nil, samples, []int{len(samples)})
	if len(whole) == 0 || strings.TrimSpace(whole[0].Text()) == "" {
		t.Fatalf("the demo model recognised nothing: %+v", whole)
	}
	t.Logf("recognised %q", resultsText(whole))
	rng := rand.New(rand.NewSource(3))
	random := make([]int, 64)
	for i := range random {
		random[i] = 1 + rng.Intn(9000)
	}
	for name, pieces := range map[string][]int{"10ms": {160}, "chunk": {5120}, "odd": {1, 7, 333}, "random": random} {
		if got := demoRun(t, m, nil, samples, pieces); !reflect.DeepEqual(got, whole) {
			t.Errorf("%s pieces: %q, whole: %q", name, resultsText(got), resultsText(whole))
		}
	}
	// Three streams through one scheduler: each equals the solo run.
	sched := onnx.NewScheduler(m, onnx.SchedulerOptions{MaxBatch: 4})
	defer sched.Close()
	var wg sync.WaitGroup
	got := make([][]decoder.Result, 3)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i] = demoRun(t, m, sched, samples, []int{160 * (i + 1), 4000})
		}(i)
	}
	wg.Wait()
	for i, g := range got {
		if !reflect.DeepEqual(g, whole) {
			t.Errorf("scheduled stream %d: %q, solo: %q", i, resultsText(g), resultsText(whole))
		}
	}
	if sched.Stats().MaxBatchSeen < 2 {
		t.Logf("note: the streams never shared a call (max batch %d)", sched.Stats().MaxBatchSeen)
	}
}

func resultsText(rs []decoder.Result) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Text())
	}
	return strings.Join(parts, " | ")
}

// TestDemoModelEarlyCommits: with CommitAfter, a long utterance comes out as
// finals that continue, long before its endpoint, and the words are the
// same as without early commits, whatever the grouping of the audio.
func TestDemoModelEarlyCommits(t *testing.T) {
	m := openModel(t, testenv.Path("models", "demo-en"))
	samples := speech16k(t, "the minister said the new hospital in the north will open next spring and "+
		"the council agreed to build more homes near the river before the end of the year")
	words := func(rs []decoder.Result) (out []decoder.Word, continues int) {
		for _, r := range rs {
			out = append(out, r.Words...)
			if r.Continues {
				continues++
			}
		}
		return out, continues
	}
	plain, n := words(demoRunOpts(t, m, Options{}, samples, []int{len(samples)}))
	if n != 0 {
		t.Fatalf("%d finals continue without CommitAfter", n)
	}
	text := func(ws []decoder.Word) string { return decoder.Result{Words: ws}.Text() }
	var first []decoder.Word
	for name, pieces := range map[string][]int{"whole": {len(samples)}, "10ms": {160}, "odd": {1, 7, 3333}} {
		rs := demoRunOpts(t, m, Options{CommitAfter: time.Second}, samples, pieces)
		got, n := words(rs)
		if n == 0 {
			t.Fatalf("%s: no early commit in %d finals: %q", name, len(rs), resultsText(rs))
		}
		if text(got) != text(plain) {
			t.Errorf("%s: with early commits %q, without %q", name, text(got), text(plain))
		}
		if first == nil {
			first = got
		} else if !reflect.DeepEqual(got, first) {
			t.Errorf("%s: words depend on the grouping:\n%+v\n%+v", name, got, first)
		}
		// Fed as it arrives, the first commit comes well before the end of
		// the speech.
		if end := rs[0].Words[len(rs[0].Words)-1].End; name != "whole" && end > int64(len(samples))*90000/16000/2 {
			t.Errorf("%s: first final ends at %.1f s of %.1f s", name, float64(end)/90000, float64(len(samples))/16000)
		}
	}
	t.Logf("%d words, e.g. %q", len(plain), text(plain))
}

// TestDemoModelForcedCutsKeepWords: forced cuts (rule 3) in continuous
// speech wait for the search to be between words, so cutting every 2 s
// gives the words of a run that never cuts, none split in two.
func TestDemoModelForcedCutsKeepWords(t *testing.T) {
	m := openModel(t, testenv.Path("models", "demo-en"))
	samples := speech16k(t, "the minister said the new hospital in the north will open next spring and "+
		"the council agreed to build more homes")
	text := func(rs []decoder.Result) string {
		var ws []decoder.Word
		for _, r := range rs {
			ws = append(ws, r.Words...)
		}
		return decoder.Result{Words: ws}.Text()
	}
	never := endpoint.Options{Rule3: endpoint.Rule{MinUtteranceLength: time.Hour}}
	whole := text(demoRunOpts(t, m, Options{Endpoint: &never}, samples, []int{len(samples)}))
	forced := endpoint.Options{Rule3: endpoint.Rule{MinUtteranceLength: 2 * time.Second}}
	for _, commit := range []time.Duration{0, time.Second} {
		rs := demoRunOpts(t, m, Options{Endpoint: &forced, CommitAfter: commit}, samples, []int{1, 7, 3333})
		t.Logf("commit %v: %s", commit, resultsText(rs))
		if commit == 0 && len(rs) < 3 {
			t.Errorf("%d finals in %.1f s of speech, want forced cuts", len(rs), float64(len(samples))/16000)
		}
		if got := text(rs); got != whole {
			t.Errorf("commit %v: with forced cuts %q (%s)\nwithout %q", commit, got, resultsText(rs), whole)
		}
	}
	t.Logf("%q", whole)
}
