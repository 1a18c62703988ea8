package recognizer

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/features"
	"github.com/subtitled/subtitled/decoder/onnx"
	"github.com/subtitled/subtitled/decoder/transducer"
	"github.com/subtitled/subtitled/tools/familymodels/sounds"
)

// toneSounds synthesises a sound table's sounds (tools/familymodels/sounds)
// at 16 kHz and returns the samples with each tone's onset and end.
func toneSounds(t *testing.T, table string, bandHz func(int) float64, lead int, names ...string) ([]float32, []int, []int) {
	t.Helper()
	tab, err := sounds.Load(familyDir(table))
	if err != nil {
		t.Fatal(err)
	}
	a, err := tab.Synth(16000, bandHz, lead, names...)
	if err != nil {
		t.Fatal(err)
	}
	return a.Samples, a.Onsets, a.Ends
}

// The NeMo sound bands stand out in the NeMo features of their tones, for
// 80 and 128 bins: what the recogniser tests below rely on.
func TestNeMoToneBands(t *testing.T) {
	for _, bins := range []int{80, 128} {
		for b := 10; b <= 46; b += 2 {
			var x []float32
			for i := range 4000 {
				x = append(x, float32(0.25*math.Sin(2*math.Pi*sounds.SlaneyBandHz(b, bins)*float64(i)/16000)))
			}
			fr, n, err := features.Compute(features.NeMoOptions(bins), x)
			if err != nil {
				t.Fatal(err)
			}
			row := fr[(n/2)*bins : (n/2+1)*bins]
			best := 10
			for c := 10; c <= 46; c += 2 {
				if row[c] > row[best] {
					best = c
				}
			}
			if best != b || row[b] < -5 {
				t.Errorf("%d bins: a tone at band %d (%.1f Hz) is loudest in band %d (level %.2f)", bins, b, sounds.SlaneyBandHz(b, bins), best, row[b])
			}
		}
	}
}

// Each new family end to end from audio: features of the family (Kaldi
// fbank for zipformer2 CTC, NeMo log-mel with 80 or 128 bins for the NeMo
// models), chunked model calls, search, an endpoint at the pause with the
// family's reset, and word times in media time.
func TestFamilyRecognizers(t *testing.T) {
	kaldi := sounds.KaldiBandHz
	for _, tc := range []struct {
		dir        string
		transducer bool
		a, b       []string
		want       [2]string
		onset      bool // the fixture emits at a sound's onset (icefall design), else at its end (NeMo design)
	}{
		{onnx.FamilyZipformer2CTC, false, []string{"THE", "CAT", "S"}, []string{"DITTO1", "HA"}, [2]string{"THE CATS", "HA"}, true},
		{onnx.FamilyNeMoCTC, false, []string{"THE", "CAT", "S"}, []string{"HA", "COMMA"}, [2]string{"The cats", "ha,"}, false},
		// NeMo resets the prediction network at the endpoint: DITTO1 has
		// nothing to repeat in the second segment.
		{onnx.FamilyNeMoTransducer, true, []string{"NEW", "YORK"}, []string{"DITTO1", "HA", "DITTO1"}, [2]string{"New York", "ha ha"}, false},
		{"nemotron", true, []string{"NEW_YORK", "PERIOD"}, []string{"DITTO1", "HA", "DITTO1"}, [2]string{"New York.", "ha ha"}, false},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			var rs results
			var r *Recognizer
			var bins int
			var table string
			var bandFn func(int) float64
			var err error
			if tc.transducer {
				m := openTransducer(t, familyDir(tc.dir), transducer.Options{})
				bins = m.Params().FeatureDim
				r, err = NewTransducer(m, Options{Partials: true}, rs.emit)
			} else {
				m := openModel(t, familyDir(tc.dir))
				bins = m.Contract().FeatureDim
				r, err = New(m, Options{Partials: true}, rs.emit)
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.onset {
				table, bandFn = "sounds.json", kaldi
			} else {
				table, bandFn = "nemo_sounds.json", func(b int) float64 { return sounds.SlaneyBandHz(b, bins) }
			}
			a, onA, endA := toneSounds(t, table, bandFn, 300, tc.a...)
			pause := make([]float32, 2*16000)
			c, onC, endC := toneSounds(t, table, bandFn, 0, tc.b...)
			audio := append(append(a, pause...), c...)
			const pts0 = 4_500_000
			if err := runChannel(r, audio, pts0, 480); err != nil {
				t.Fatal(err)
			}
			finals := rs.finals
			if len(finals) != 2 || finals[0].Text() != tc.want[0] || finals[1].Text() != tc.want[1] ||
				finals[0].Segment != 0 || finals[1].Segment != 1 {
				t.Fatalf("finals %+v", finals)
			}
			if rs.partials == 0 {
				t.Error("no partials")
			}
			// Word times: at the tone onset (icefall design) or 40..140 ms
			// before the tone's end (NeMo design: 80 ms frames, each coding
			// the feature frame 130 ms after its start), in media time.
			off := len(a) + len(pause)
			var marks []int
			for _, w := range []struct {
				on, end []int
				off     int
			}{{onA, endA, 0}, {onC, endC, off}} {
				for i := range w.on {
					if tc.onset {
						marks = append(marks, w.off+w.on[i])
					} else {
						marks = append(marks, w.off+w.end[i])
					}
				}
			}
			words := append(finals[0].Words, finals[1].Words...)
			for i, w := range words {
				k := wordSound(tc.dir, i)
				mark := pts0 + int64(marks[k])*90000/16000
				lo, hi := mark-80*90, mark+80*90
				if !tc.onset {
					lo, hi = mark-140*90, mark-40*90
				}
				if w.Start < lo || w.Start > hi || w.End <= w.Start {
					t.Errorf("word %d %q at %d..%d, want a start in %d..%d", i, w.Text, w.Start, w.End, lo, hi)
				}
			}
		})
	}
}

// wordSound maps word i of a TestFamilyRecognizers case to the sound (in
// order over both segments) that starts it.
func wordSound(dir string, i int) int {
	switch dir {
	case onnx.FamilyZipformer2CTC: // THE CAT+S | DITTO1 HA
		return []int{0, 1, 4}[i]
	case onnx.FamilyNeMoCTC: // THE CAT+S | HA+COMMA
		return []int{0, 1, 3}[i]
	case onnx.FamilyNeMoTransducer: // NEW YORK | DITTO1 HA DITTO1
		return []int{0, 1, 3, 4}[i]
	}
	return []int{0, 0, 3, 4}[i] // nemotron: NEW_YORK PERIOD | DITTO1 HA DITTO1
}

func TestFamilyRecognizerErrors(t *testing.T) {
	b, err := onnx.OpenTransducer(familyDir("nemotron"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.NewTransducerModel(b, onnx.TransducerOptions{Search: transducer.Options{Method: transducer.ModifiedBeam}}); !errors.Is(err, transducer.ErrOptions) {
		t.Errorf("beam for NeMo: %v", err)
	}
	if _, err := featureOptions("whisper", 80); !errors.Is(err, ErrFeatures) {
		t.Errorf("whisper features: %v", err)
	}
}

// TestSubtitleHead: a bundle with a subtitle head gives a result per track
// from the same model calls, with endpoints from the verbatim head, with
// and without early commits.
func TestSubtitleHead(t *testing.T) {
	m := openModel(t, familyDir("two_heads"))
	// The fixture's repeat detector keeps its state across an endpoint (the
	// subtitled_ctc reset keeps model states), so the first utterance must
	// not end with the second one's only word: "yeah" leads it instead.
	a, _, _ := toneSounds(t, "two_heads/sounds.json", sounds.KaldiBandHz, 300,
		"YEAH", "UM", "THE", "THE", "CAT", "S", "UH", "SAT", "ON", "THE", "MAT")
	audio := append(a, make([]float32, 2*16000)...)
	c, _, _ := toneSounds(t, "two_heads/sounds.json", sounds.KaldiBandHz, 0, "UM", "YEAH")
	audio = append(audio, c...)
	for _, commit := range []time.Duration{0, time.Second} {
		t.Run(fmt.Sprint("commit ", commit), func(t *testing.T) {
			finals := map[string][]decoder.Result{}
			partials := map[string]int{}
			r, err := New(m, Options{Partials: true, CommitAfter: commit}, func(res decoder.Result) {
				if res.Final {
					finals[res.Track] = append(finals[res.Track], res)
				} else {
					partials[res.Track]++
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Tracks(); !reflect.DeepEqual(got, []string{decoder.TrackVerbatim, decoder.TrackSubtitle}) {
				t.Fatalf("tracks %q", got)
			}
			feed(t, r, audio, 0, 480, false)
			if err := r.Finish(); err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{
				decoder.TrackVerbatim: {"yeah um the the cats uh sat on the mat", "um yeah"},
				decoder.TrackSubtitle: {"yes the cats sat on the mat", "yes"},
			}
			for track, segs := range want {
				// Join each utterance's finals: early commits split them.
				var got []string
				var cur []string
				for i, f := range finals[track] {
					if f.Segment != uint64(i) {
						t.Errorf("%s final %d has segment %d", track, i, f.Segment)
					}
					cur = append(cur, f.Text())
					if !f.Continues {
						got = append(got, strings.Join(cur, " "))
						cur = nil
					}
				}
				if !reflect.DeepEqual(got, segs) {
					t.Errorf("%s: %q, want %q", track, got, segs)
				}
				if partials[track] == 0 {
					t.Errorf("%s: no partials", track)
				}
			}
			if commit > 0 && len(finals[decoder.TrackSubtitle]) <= 2 {
				t.Errorf("no early commit on the subtitle track: %+v", finals[decoder.TrackSubtitle])
			}
		})
	}
}
