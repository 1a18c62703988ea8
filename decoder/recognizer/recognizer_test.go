package recognizer

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/decoder/transducer"
	"github.com/subtitled/subtitled/ingest"
	"github.com/subtitled/subtitled/tools/testenv"
	"github.com/subtitled/subtitled/tools/tonegen"
)

func TestMain(m *testing.M) {
	if err := testenv.InitORT(); err != nil {
		fmt.Fprintln(os.Stderr, "decoder/recognizer tests:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// familyDir is a fixture bundle of testdata/models/families.
func familyDir(name string) string { return testenv.Path("testdata", "models", "families", name) }

// openModel opens the CTC bundle in dir with default options; the test's
// cleanup closes it.
func openModel(t *testing.T, dir string) *onnx.Model {
	t.Helper()
	b, err := onnx.OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.NewModel(b, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// openTransducer opens the transducer bundle in dir with the given search;
// the test's cleanup closes it.
func openTransducer(t *testing.T, dir string, search transducer.Options) *onnx.TransducerModel {
	t.Helper()
	b, err := onnx.OpenTransducer(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.NewTransducerModel(b, onnx.TransducerOptions{Search: search})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func toneModel(t *testing.T) (*onnx.Model, *tonegen.Table) {
	t.Helper()
	m := openModel(t, testenv.Path("testdata", "models", "tone"))
	tab, err := tonegen.Load(testenv.Path("testdata", "models", "tone", "tones.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m, tab
}

// results collects a recogniser's finals and counts its partials.
type results struct {
	finals   []decoder.Result
	partials int
}

func (rs *results) emit(res decoder.Result) {
	if res.Final {
		rs.finals = append(rs.finals, res)
	} else {
		rs.partials++
	}
}

// send sends samples to r in frames of n samples starting at pts0, the
// first one marked as a discontinuity when disc is set.
func send(r *Recognizer, samples []float32, pts0 int64, n int, disc bool) error {
	for off := 0; off < len(samples); off += n {
		f := ingest.Frame{
			Samples:       samples[off:min(off+n, len(samples))],
			PTS:           ingest.SamplePTS(pts0, int64(off)),
			Wall:          time.Now(),
			Discontinuity: disc && off == 0,
		}
		if err := r.Accept(f); err != nil {
			return err
		}
	}
	return nil
}

// feed is send that fails the test on an error.
func feed(t *testing.T, r *Recognizer, samples []float32, pts0 int64, n int, disc bool) {
	t.Helper()
	if err := send(r, samples, pts0, n, disc); err != nil {
		t.Fatal(err)
	}
}

// runChannel sends audio through r in frames of n samples from pts0, then
// finishes and closes it.
func runChannel(r *Recognizer, audio []float32, pts0 int64, n int) error {
	defer r.Close()
	if err := send(r, audio, pts0, n, false); err != nil {
		return err
	}
	return r.Finish()
}

func TestFinalsAtEndpointsWithMediaTimes(t *testing.T) {
	m, tab := toneModel(t)
	var rs results
	r, err := New(m, Options{Partials: true}, rs.emit)
	if err != nil {
		t.Fatal(err)
	}
	// Two sentences separated by 2 s of silence: rule2 must cut between them.
	a, err := tab.Spell("hello world", 16000, 2.0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tab.Spell("good night", 16000, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	const pts0 = 900000 // 10 s
	audio := append(append([]float32{}, a.Samples...), b.Samples...)
	feed(t, r, audio, pts0, 1024, false)
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	finals := rs.finals
	if len(finals) != 2 {
		t.Fatalf("finals %+v, want 2 segments", finals)
	}
	if finals[0].Text() != "hello world" || finals[1].Text() != "good night" {
		t.Fatalf("texts %q, %q", finals[0].Text(), finals[1].Text())
	}
	if finals[0].Segment != 0 || finals[1].Segment != 1 {
		t.Fatalf("segments %d, %d", finals[0].Segment, finals[1].Segment)
	}
	if rs.partials == 0 {
		t.Fatal("no partial results")
	}
	onsets := append(append([]int{}, a.WordOnsets...), b.WordOnsets[0]+len(a.Samples), b.WordOnsets[1]+len(a.Samples))
	var words []decoder.Word
	for _, f := range finals {
		words = append(words, f.Words...)
	}
	for i, w := range words {
		want := ingest.SamplePTS(pts0, int64(onsets[i]))
		if d := w.Start - want; d < -50*90 || d > 50*90 {
			t.Errorf("word %q starts at %d, tone onset at %d (off by %d ms)", w.Text, w.Start, want, d/90)
		}
	}
}

func TestDiscontinuityFinalisesAndReanchors(t *testing.T) {
	m, tab := toneModel(t)
	var finals []decoder.Result
	r, err := New(m, Options{}, func(res decoder.Result) { finals = append(finals, res) })
	if err != nil {
		t.Fatal(err)
	}
	sp, err := tab.Spell("cat", 16000, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, sp.Samples, 0, 800, false)
	const jump = 90000 * 3600 // an hour later
	feed(t, r, sp.Samples, jump, 800, true)
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(finals) != 2 || finals[0].Text() != "cat" || finals[1].Text() != "cat" {
		t.Fatalf("finals %+v", finals)
	}
	want := ingest.SamplePTS(jump, int64(sp.WordOnsets[0]))
	if d := finals[1].Words[0].Start - want; d < -50*90 || d > 50*90 {
		t.Fatalf("after the discontinuity the word starts at %d, want about %d", finals[1].Words[0].Start, want)
	}
}

// Recognisers sharing a scheduler emit exactly the results they emit alone.
func TestSchedulerSameResults(t *testing.T) {
	m, tab := toneModel(t)
	texts := []string{"hello world", "good night", "cat", "batch of streams"}
	audio := make([][]float32, len(texts))
	want := make([][]decoder.Result, len(texts))
	for i, text := range texts {
		sp, err := tab.Spell(text, 16000, 1.2)
		if err != nil {
			t.Fatal(err)
		}
		audio[i] = sp.Samples
		r, err := New(m, Options{Partials: true}, func(res decoder.Result) { want[i] = append(want[i], res) })
		if err != nil {
			t.Fatal(err)
		}
		// Partials depend on the frame size. No scheduler: Close releases nothing.
		if err := runChannel(r, audio[i], 90000, 700+300*i); err != nil {
			t.Fatal(err)
		}
		if len(want[i]) == 0 || !want[i][len(want[i])-1].Final || want[i][len(want[i])-1].Text() != text {
			t.Fatalf("solo %q: %+v", text, want[i])
		}
	}
	s := onnx.NewScheduler(m, onnx.SchedulerOptions{MaxBatch: 4})
	defer s.Close()
	got := make([][]decoder.Result, len(texts))
	errs := make([]error, len(texts))
	var wg sync.WaitGroup
	for i := range texts {
		r, err := New(m, Options{Partials: true, Scheduler: s}, func(res decoder.Result) { got[i] = append(got[i], res) })
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runChannel(r, audio[i], 90000, 700+300*i)
		}()
	}
	wg.Wait()
	for i := range texts {
		if errs[i] != nil {
			t.Fatalf("stream %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("stream %d: through the scheduler\n%+v\nalone\n%+v", i, got[i], want[i])
		}
	}
	if st := s.Stats(); st.ActiveStreams != 0 || st.Streams == 0 {
		t.Errorf("scheduler stats %+v", st)
	}
}

func TestSchedulerOfAnotherModel(t *testing.T) {
	m, _ := toneModel(t)
	other, _ := toneModel(t)
	s := onnx.NewScheduler(other, onnx.SchedulerOptions{})
	defer s.Close()
	if _, err := New(m, Options{Scheduler: s}, func(decoder.Result) {}); err == nil {
		t.Fatal("New accepted a scheduler of another model")
	}
	s.Close()
	if _, err := New(other, Options{Scheduler: s}, func(decoder.Result) {}); !errors.Is(err, onnx.ErrClosed) {
		t.Fatalf("closed scheduler: %v", err)
	}
}
