package transducer

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/subtitled/subtitled/decoder"
)

// randomFrames makes n encoder rows for fakeNet whose logits favour the
// blank most of the time and otherwise one or two word pieces, so that
// beams hold rival readings.
func randomFrames(r *rand.Rand, net *fakeNet, n int) []float32 {
	J := net.JoinerDim()
	out := make([]float32, n*J)
	for i := range n {
		row := out[i*J : (i+1)*J]
		for j := range net.v {
			row[j] = float32(r.NormFloat64())
		}
		switch r.IntN(4) {
		case 0, 1:
			row[0] += 4
		case 2:
			row[3+r.IntN(8)] += 3
		default:
			row[3+r.IntN(8)] += 2
			row[3+r.IntN(8)] += 2
		}
	}
	return out
}

func sameWords(a, b []decoder.Word) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// Without force, committed words followed by Words (and by Cut) are what a
// stream that never commits reports, for greedy and modified beam search.
func TestCommitIsExact(t *testing.T) {
	for _, opts := range []Options{{}, {Method: ModifiedBeam, Beam: 4}, {Method: ModifiedBeam, Beam: 8}} {
		committed := 0
		for seed := range uint64(25) {
			r := rand.New(rand.NewPCG(seed, 3))
			net, s := newSearch(t, opts)
			enc := randomFrames(r, net, 40+r.IntN(120))
			J := net.JoinerDim()
			plain, st := s.NewStream(0), s.NewStream(0)
			var done []decoder.Word
			for from := 0; from < len(enc)/J; {
				to := min(len(enc)/J, from+1+r.IntN(8))
				chunk := enc[from*J : to*J]
				from = to
				if err := s.Decode([]*Stream{plain, st}, [][]float32{chunk, chunk}); err != nil {
					t.Fatal(err)
				}
				c := st.Commit()
				committed += len(c)
				done = append(done, c...)
				where := fmt.Sprintf("%s beam %d seed %d frame %d", opts.Method, opts.Beam, seed, from)
				if want, got := plain.Words(), append(append([]decoder.Word{}, done...), st.Words()...); !sameWords(want, got) {
					t.Fatalf("%s: committed+words\n%+v\nwant\n%+v", where, got, want)
				}
				if r.IntN(8) == 0 {
					got := append(done, st.Cut()...)
					done = nil
					if want := plain.Cut(); !sameWords(want, got) {
						t.Fatalf("%s: cut\n%+v\nwant\n%+v", where, got, want)
					}
				}
			}
		}
		if committed == 0 {
			t.Errorf("%s beam %d: nothing was ever committed", opts.Method, opts.Beam)
		}
	}
}

// With force, modified beam search commits the best reading of old words
// and drops the rival hypotheses; what is committed and cut never overlaps
// or goes back, and does not depend on how the encoder output is grouped.
func TestCommitForce(t *testing.T) {
	forced := 0
	run := func(s *Searcher, enc []float32, J int, force int64, r *rand.Rand) []decoder.Word {
		st := s.NewStream(0)
		st.SetCommitForce(force)
		var all []decoder.Word
		for from := 0; from < len(enc)/J; {
			to := min(len(enc)/J, from+1+r.IntN(8))
			if err := s.Decode([]*Stream{st}, [][]float32{enc[from*J : to*J]}); err != nil {
				t.Fatal(err)
			}
			from = to
			all = append(all, st.Commit()...)
		}
		return append(all, st.Cut()...)
	}
	for seed := range uint64(25) {
		r := rand.New(rand.NewPCG(seed, 5))
		net, s := newSearch(t, Options{Method: ModifiedBeam, Beam: 8})
		J := net.JoinerDim()
		enc := randomFrames(r, net, 80+r.IntN(120))
		force := 1 + int64(r.IntN(4))
		all := run(s, enc, J, force, r)
		end := int64(-1)
		for i, w := range all {
			if w.Start < end || w.End < w.Start {
				t.Fatalf("seed %d word %d %+v overlaps the word before (end %d)", seed, i, w, end)
			}
			end = w.End
		}
		if again := run(s, enc, J, force, r); !sameWords(all, again) {
			t.Fatalf("seed %d: another grouping gave\n%+v\nnot\n%+v", seed, again, all)
		}
		if free := run(s, enc, J, 0, r); !sameWords(all, free) {
			forced++ // force changed a reading
		}
	}
	if forced == 0 {
		t.Error("force never changed a reading: the test does not exercise it")
	}
}
