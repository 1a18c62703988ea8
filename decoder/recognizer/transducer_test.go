package recognizer

import (
	"testing"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/decoder/transducer"
	"github.com/subtitled/subtitled/tools/familymodels/sounds"
)

// sounds16k synthesises the icefall fixtures' sounds (sounds.json) at
// 16 kHz after lead ms of silence and returns each tone's onset.
func sounds16k(t *testing.T, lead int, names ...string) ([]float32, []int) {
	t.Helper()
	a, onsets, _ := toneSounds(t, "sounds.json", sounds.KaldiBandHz, lead, names...)
	return a, onsets
}

// A transducer recogniser cuts at the pause (rule2) and, as icefall models
// do, keeps the decoder context across the endpoint: DITTO2 in the second
// segment repeats NEW from the first.
func TestTransducerRecognizer(t *testing.T) {
	for _, family := range []string{onnx.FamilyZipformer2, onnx.FamilyZipformer, onnx.FamilyLSTM} {
		for _, method := range []string{transducer.Greedy, transducer.ModifiedBeam} {
			m := openTransducer(t, familyDir(family), transducer.Options{Method: method})
			var rs results
			r, err := NewTransducer(m, Options{Partials: true}, rs.emit)
			if err != nil {
				t.Fatal(err)
			}
			a, onA := sounds16k(t, 200, "NEW", "YORK")
			pause := make([]float32, 2*16000)
			c, onC := sounds16k(t, 0, "DITTO2", "HA")
			audio := append(append(a, pause...), c...)
			const pts0 = 9_000_000
			if err := runChannel(r, audio, pts0, 320); err != nil {
				t.Fatal(err)
			}
			m.Close()
			finals := rs.finals
			if len(finals) != 2 || finals[0].Text() != "NEW YORK" || finals[1].Text() != "NEW HA" ||
				finals[0].Segment != 0 || finals[1].Segment != 1 {
				t.Fatalf("%s/%s: finals %+v", family, method, finals)
			}
			if rs.partials == 0 {
				t.Errorf("%s/%s: no partials", family, method)
			}
			// Word starts within 80 ms of the tone onsets, in media time.
			onsets := []int{onA[0], onA[1], len(a) + len(pause) + onC[0], len(a) + len(pause) + onC[1]}
			words := append(finals[0].Words, finals[1].Words...)
			for i, w := range words {
				want := pts0 + int64(onsets[i])*90000/16000
				if d := w.Start - want; d < -80*90 || d > 80*90 || w.End <= w.Start {
					t.Errorf("%s/%s: word %d %q at %d..%d, tone at %d", family, method, i, w.Text, w.Start, w.End, want)
				}
			}
		}
	}
}

// A transducer recogniser refuses a CTC scheduler, for icefall and NeMo
// transducers.
func TestNewTransducerScheduler(t *testing.T) {
	tone, _ := toneModel(t)
	s := onnx.NewScheduler(tone, onnx.SchedulerOptions{})
	defer s.Close()
	for _, dir := range []string{onnx.FamilyLSTM, "nemotron"} {
		m := openTransducer(t, familyDir(dir), transducer.Options{})
		if _, err := NewTransducer(m, Options{Scheduler: s}, func(decoder.Result) {}); err == nil {
			t.Errorf("%s: NewTransducer accepted a CTC scheduler", dir)
		}
	}
}
