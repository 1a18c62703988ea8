package recognizer

import (
	"math"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/decoder/transducer"
	"github.com/subtitled/subtitled/tools/familymodels/sounds"
)

// Channels of a transducer model recognised concurrently through one
// TransducerScheduler (Options.TransducerScheduler) give the finals, word
// times and segments of their direct recognisers.
func TestTransducerRecognizersScheduled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tc := range []struct {
		dir    string
		table  string
		method string
		script [][2][]string
	}{
		{onnx.FamilyZipformer2, "sounds.json", transducer.Greedy, [][2][]string{
			{{"NEW", "YORK"}, {"DITTO2", "HA"}},
			{{"THE", "CAT", "S", "SAT"}, {"ON", "A", "MAT"}},
			{{"HA"}, {"DITTO1", "CAT"}},
			{{"A", "MAT", "ON"}, {"THE"}},
		}},
		{onnx.FamilyZipformer2, "sounds.json", transducer.ModifiedBeam, [][2][]string{
			{{"NEW", "YORK"}, {"DITTO2", "HA"}},
			{{"THE", "CAT", "S", "SAT"}, {"ON", "A", "MAT"}},
		}},
		{onnx.FamilyNeMoTransducer, "nemo_sounds.json", transducer.Greedy, [][2][]string{
			{{"NEW", "YORK"}, {"DITTO1", "HA", "DITTO1"}},
			{{"THE", "CAT", "S"}, {"HA", "COMMA"}},
			{{"A", "MAT"}, {"SAT", "ON", "A"}},
		}},
	} {
		t.Run(tc.dir+"/"+tc.method, func(t *testing.T) {
			m := openTransducer(t, familyDir(tc.dir), transducer.Options{Method: tc.method})
			bins := m.Params().FeatureDim
			band := sounds.KaldiBandHz
			if tc.table == "nemo_sounds.json" {
				band = func(b int) float64 { return sounds.SlaneyBandHz(b, bins) }
			}
			n := len(tc.script)
			audio := make([][]float32, n)
			for i, sc := range tc.script {
				a, _, _ := toneSounds(t, tc.table, band, 200+90*i, sc[0]...)
				c, _, _ := toneSounds(t, tc.table, band, 0, sc[1]...)
				audio[i] = append(append(a, make([]float32, 2*16000)...), c...)
			}
			pts := func(i int) int64 { return 3_000_000 + int64(i)*777_777 }

			direct := make([][]decoder.Result, n)
			for i := range n {
				r, err := NewTransducer(m, Options{}, func(res decoder.Result) { direct[i] = append(direct[i], res) })
				if err != nil {
					t.Fatal(err)
				}
				if err := runChannel(r, audio[i], pts(i), 480); err != nil {
					t.Fatal(err)
				}
				if len(direct[i]) != 2 {
					t.Fatalf("channel %d alone: finals %+v", i, direct[i])
				}
			}

			s := onnx.NewTransducerScheduler(m, onnx.SchedulerOptions{MaxBatch: 8, Wait: 20 * time.Millisecond})
			defer s.Close()
			got := make([][]decoder.Result, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				r, err := NewTransducer(m, Options{TransducerScheduler: s}, func(res decoder.Result) { got[i] = append(got[i], res) })
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = runChannel(r, audio[i], pts(i), 320+160*i)
				}()
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("channel %d: %v", i, errs[i])
				}
				if !sameFinals(got[i], direct[i]) {
					t.Errorf("channel %d: scheduled %+v\ndirect %+v", i, got[i], direct[i])
				}
			}
			s.Close()
			if st := s.Stats(); st.ActiveStreams != 0 || st.Calls == 0 || st.Streams < st.Calls {
				t.Errorf("stats %+v", st)
			} else {
				t.Logf("%+v", st)
			}
		})
	}
}

// sameFinals compares results: text, times and segments exactly,
// confidences within 1e-5 (batched joiner calls).
func sameFinals(a, b []decoder.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Final != b[i].Final || a[i].Segment != b[i].Segment || a[i].Track != b[i].Track || len(a[i].Words) != len(b[i].Words) {
			return false
		}
		for k, w := range a[i].Words {
			v := b[i].Words[k]
			if w.Text != v.Text || w.Start != v.Start || w.End != v.End || math.Abs(float64(w.Conf-v.Conf)) > 1e-5 {
				return false
			}
		}
	}
	return true
}

// A transducer scheduler of another model is refused.
func TestNewTransducerOtherScheduler(t *testing.T) {
	m := openTransducer(t, familyDir(onnx.FamilyLSTM), transducer.Options{})
	other := openTransducer(t, familyDir(onnx.FamilyLSTM), transducer.Options{})
	s := onnx.NewTransducerScheduler(other, onnx.SchedulerOptions{})
	defer s.Close()
	if _, err := NewTransducer(m, Options{TransducerScheduler: s}, func(decoder.Result) {}); err == nil {
		t.Error("NewTransducer accepted another model's scheduler")
	}
	if s.Stats().ActiveStreams != 0 {
		t.Errorf("stats %+v", s.Stats())
	}
}
