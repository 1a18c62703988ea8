package transducer

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/ctc"
)

const testTokens = "<blk> 0\n<sos/eos> 1\n<unk> 2\n\u2581HEL 3\nLO 4\n\u2581WOR 5\nLD 6\n<0xC3> 7\n<0xA9> 8\n\u2581 9\n\u2581CAF 10\n"

func tokens(t testing.TB) *ctc.Tokens {
	t.Helper()
	tok, err := ctc.ParseTokens(strings.NewReader(testTokens))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fakeNet is a scripted transducer: the encoder row carries the logits
// directly (first V values) and a rule selector (value V); the decoder
// output carries the context ids (last C values of a J = V+C row), so that
// rules can make the logits depend on the context.
type fakeNet struct {
	c, v        int
	decRows     int // rows the decoder ran on
	decCalls    int
	joinRows    int
	failDecoder error
	failJoiner  error
	nanJoiner   bool
}

func (n *fakeNet) ContextSize() int { return n.c }
func (n *fakeNet) VocabSize() int   { return n.v }
func (n *fakeNet) JoinerDim() int   { return n.v + n.c }

func (n *fakeNet) RunDecoder(ctx []int64, out []float32) error {
	if n.failDecoder != nil {
		return n.failDecoder
	}
	rows := len(ctx) / n.c
	n.decCalls++
	n.decRows += rows
	J := n.JoinerDim()
	for r := 0; r < rows; r++ {
		row := out[r*J : (r+1)*J]
		clear(row)
		for i := 0; i < n.c; i++ {
			row[n.v+i] = float32(ctx[r*n.c+i])
		}
	}
	return nil
}

// Rules selected by the encoder row's value V.
const (
	ruleNone   = 0
	ruleTwo    = 1 // emit token 3 then token 4 then blank, by context
	ruleRepeat = 2 // emit the newest context token again (a "ditto")
	ruleOlder  = 3 // emit the older context token again
)

func (n *fakeNet) RunJoiner(enc, dec, out []float32) error {
	if n.failJoiner != nil {
		return n.failJoiner
	}
	J := n.JoinerDim()
	rows := len(enc) / J
	n.joinRows += rows
	for r := 0; r < rows; r++ {
		e, d, o := enc[r*J:(r+1)*J], dec[r*J:(r+1)*J], out[r*n.v:(r+1)*n.v]
		copy(o, e[:n.v])
		last, older := int(d[J-1]), int(d[J-2])
		hot := -1
		switch int(e[n.v]) {
		case ruleTwo:
			switch last {
			case 3:
				hot = 4
			case 4:
				hot = 0
			default:
				hot = 3
			}
		case ruleRepeat:
			hot = last
		case ruleOlder:
			hot = older
		}
		if hot >= 0 {
			clear(o)
			o[hot] = 10
		}
		if n.nanJoiner {
			o[1] = float32(math.NaN())
		}
	}
	return nil
}

// frames builds encoder rows for the fake net: each entry is a token id to
// make certain (10 nats over the rest), or -(rule) for a rule frame.
func (n *fakeNet) frames(spec ...int) []float32 {
	J := n.JoinerDim()
	out := make([]float32, len(spec)*J)
	for i, s := range spec {
		row := out[i*J : (i+1)*J]
		if s < 0 {
			row[n.v] = float32(-s)
			continue
		}
		row[s] = 10
	}
	return out
}

func newSearch(t *testing.T, opts Options) (*fakeNet, *Searcher) {
	t.Helper()
	tok := tokens(t)
	net := &fakeNet{c: 2, v: tok.Len()}
	s, err := New(net, tok, opts)
	if err != nil {
		t.Fatal(err)
	}
	return net, s
}

func decodeChunks(t *testing.T, s *Searcher, st *Stream, enc []float32, chunk int) {
	t.Helper()
	J := s.net.JoinerDim()
	for from := 0; from < len(enc); from += chunk * J {
		to := min(len(enc), from+chunk*J)
		if err := s.Decode([]*Stream{st}, [][]float32{enc[from:to]}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSearchText(t *testing.T) {
	const anchor = 90_000
	// HEL LO _ WOR <unk> LD _ CAF C3 A9: "HELLO WORLD CAFé" with an <unk> inside WORLD.
	spec := []int{0, 3, 0, 4, 0, 0, 5, 2, 6, 0, 10, 7, 8, 0, 0, 0}
	for _, method := range []string{Greedy, ModifiedBeam} {
		for _, chunk := range []int{1, 3, 8, 16} {
			t.Run(fmt.Sprintf("%s/chunk%d", method, chunk), func(t *testing.T) {
				net, s := newSearch(t, Options{Method: method})
				st := s.NewStream(anchor)
				decodeChunks(t, s, st, net.frames(spec...), chunk)
				if got, want := st.Text(), "HELLO WORLD CAF\u00e9"; got != want {
					t.Errorf("text %q, want %q", got, want)
				}
				if got, want := st.Tokens(), []int{3, 4, 5, 6, 10, 7, 8}; !reflect.DeepEqual(got, want) {
					t.Errorf("tokens %v, want %v", got, want)
				}
				if got, want := st.TokenFrames(), []int64{1, 3, 6, 8, 10, 11, 12}; !reflect.DeepEqual(got, want) {
					t.Errorf("token frames %v, want %v", got, want)
				}
				tick := int64(4 * FrameTicks)
				words := st.Words()
				want := []struct {
					text       string
					start, end int64
				}{
					{"HELLO", anchor + 1*tick, anchor + 4*tick},
					{"WORLD", anchor + 6*tick, anchor + 9*tick},
					{"CAF\u00e9", anchor + 10*tick, anchor + 13*tick},
				}
				if len(words) != len(want) {
					t.Fatalf("words %+v", words)
				}
				for i, w := range want {
					if words[i].Text != w.text || words[i].Start != w.start || words[i].End != w.end {
						t.Errorf("word %d = %+v, want %+v", i, words[i], w)
					}
					if words[i].Conf < 0.99 || words[i].Conf > 1 {
						t.Errorf("word %d conf %v", i, words[i].Conf)
					}
				}
				if st.Frames() != int64(len(spec)) || st.TrailingBlanks() != 3 {
					t.Errorf("frames %d trailing %d", st.Frames(), st.TrailingBlanks())
				}
			})
		}
	}
}

// <unk> is treated as blank: it is not emitted, it does not enter the
// decoder context and it counts as a trailing blank.
func TestUnkIsBlank(t *testing.T) {
	for _, method := range []string{Greedy, ModifiedBeam} {
		net, s := newSearch(t, Options{Method: method})
		st := s.NewStream(0)
		decodeChunks(t, s, st, net.frames(3, 2, 2, -ruleRepeat), 2)
		if got := st.Tokens(); !reflect.DeepEqual(got, []int{3, 3}) {
			t.Errorf("%s: tokens %v, want [3 3] (ditto of HEL, <unk> skipped)", method, got)
		}
		st2 := s.NewStream(0)
		decodeChunks(t, s, st2, net.frames(3, 2, 2), 3)
		if st2.TrailingBlanks() != 2 {
			t.Errorf("%s: trailing %d after two <unk>, want 2", method, st2.TrailingBlanks())
		}
	}
}

// The initial context is [-1, 0]; both context positions reach the joiner.
func TestContext(t *testing.T) {
	for _, method := range []string{Greedy, ModifiedBeam} {
		net, s := newSearch(t, Options{Method: method})
		st := s.NewStream(0)
		if got := st.Context(); !reflect.DeepEqual(got, []int{-1, 0}) {
			t.Fatalf("initial context %v", got)
		}
		// HEL WOR older(=HEL) older(=WOR) repeat(=WOR)
		decodeChunks(t, s, st, net.frames(3, 5, -ruleOlder, -ruleOlder, -ruleRepeat), 2)
		if got, want := st.Tokens(), []int{3, 5, 3, 5, 5}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: tokens %v, want %v", method, got, want)
		}
	}
}

func TestGreedyDecoderCache(t *testing.T) {
	net, s := newSearch(t, Options{})
	a, b := s.NewStream(0), s.NewStream(0)
	enc := [][]float32{net.frames(3, 0, 0, 4), net.frames(0, 0, 0, 0)}
	if err := s.Decode([]*Stream{a, b}, enc); err != nil {
		t.Fatal(err)
	}
	// Initial context of both (one call), then a's after HEL; the one after
	// LO is run when the next frame needs it.
	if net.decRows != 3 || net.decCalls != 2 {
		t.Errorf("decoder rows %d calls %d, want 3 rows in 2 calls", net.decRows, net.decCalls)
	}
	for i := 0; i < 2; i++ {
		if err := s.Decode([]*Stream{a, b}, [][]float32{net.frames(0), net.frames(0)}); err != nil {
			t.Fatal(err)
		}
	}
	if net.decRows != 4 {
		t.Errorf("decoder rows %d, want 4: only a's context after LO is new", net.decRows)
	}
	if net.joinRows != 12 {
		t.Errorf("joiner rows %d, want 12", net.joinRows)
	}
}

func TestMaxSymbolsPerFrame(t *testing.T) {
	for _, tc := range []struct {
		max    int
		tokens []int
		frames []int64
	}{
		{1, []int{3, 4}, []int64{1, 2}},
		{2, []int{3, 4}, []int64{1, 1}},
		{3, []int{3, 4}, []int64{1, 1}},
	} {
		net, s := newSearch(t, Options{MaxSymbolsPerFrame: tc.max})
		st := s.NewStream(0)
		decodeChunks(t, s, st, net.frames(0, -ruleTwo, -ruleTwo, -ruleTwo), 4)
		if got := st.Tokens(); !reflect.DeepEqual(got, tc.tokens) {
			t.Errorf("max %d: tokens %v, want %v", tc.max, got, tc.tokens)
		}
		if got := st.TokenFrames(); !reflect.DeepEqual(got, tc.frames) {
			t.Errorf("max %d: frames %v, want %v", tc.max, got, tc.frames)
		}
	}
}

// probNet gives fixed probabilities per (frame kind, last token), to build a
// case where greedy search is wrong and beam search right.
type probNet struct{ fakeNet }

func (n *probNet) RunJoiner(enc, dec, out []float32) error {
	J := n.JoinerDim()
	for r := 0; r < len(enc)/J; r++ {
		e, d, o := enc[r*J:(r+1)*J], dec[r*J:(r+1)*J], out[r*n.v:(r+1)*n.v]
		p := make([]float64, n.v)
		for i := range p {
			p[i] = 1e-6
		}
		switch last := int(d[J-1]); {
		case e[n.v] == 1: // first frame: HEL 0.40, WOR 0.35, blank 0.25
			p[3], p[5], p[0] = 0.40, 0.35, 0.25
		case last == 3: // after HEL everything is unlikely
			p[0], p[4], p[6] = 0.34, 0.33, 0.33
		default:
			p[0] = 0.95
		}
		for i := range o {
			o[i] = float32(math.Log(p[i]))
		}
	}
	return nil
}

func TestBeamBeatsGreedy(t *testing.T) {
	tok := tokens(t)
	run := func(opts Options) *Stream {
		net := &probNet{fakeNet{c: 2, v: tok.Len()}}
		s, err := New(net, tok, opts)
		if err != nil {
			t.Fatal(err)
		}
		st := s.NewStream(0)
		enc := net.frames(-1, 0)
		if err := s.Decode([]*Stream{st}, [][]float32{enc}); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if got := run(Options{}).Tokens(); !reflect.DeepEqual(got, []int{3}) {
		t.Errorf("greedy tokens %v, want [3]", got)
	}
	// HEL then blank: 0.40*0.34 = 0.136; WOR then blank: 0.35*0.95 = 0.33;
	// blank then blank: 0.25*0.95. Same length, so WOR wins.
	if got := run(Options{Method: ModifiedBeam, Beam: 4}).Tokens(); !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("beam tokens %v, want [5]", got)
	}
	if got := run(Options{Method: ModifiedBeam, Beam: 1}).Tokens(); !reflect.DeepEqual(got, []int{3}) {
		t.Errorf("beam 1 tokens %v, want [3] (same as greedy)", got)
	}
}

// Hypotheses with equal tokens merge: log-probabilities add.
func TestBeamMerge(t *testing.T) {
	net, s := newSearch(t, Options{Method: ModifiedBeam, Beam: 3})
	st := s.NewStream(0)
	J := net.JoinerDim()
	enc := make([]float32, 2*J)
	// Frame 0: blank and HEL equally likely; frame 1 the same.
	enc[0], enc[3] = 5, 5
	enc[J+0], enc[J+3] = 5, 5
	if err := s.Decode([]*Stream{st}, [][]float32{enc}); err != nil {
		t.Fatal(err)
	}
	var merged *hyp
	for _, h := range st.hyps {
		if reflect.DeepEqual(h.ys, []int{-1, 0, 3}) {
			merged = h
		}
		for _, o := range st.hyps {
			if o != h && reflect.DeepEqual(o.ys, h.ys) {
				t.Fatalf("two hypotheses with tokens %v", h.ys)
			}
		}
	}
	if merged == nil {
		t.Fatalf("no hypothesis [HEL]: %v", st.hyps)
	}
	// [HEL] arises from (blank, HEL) and (HEL, blank): 2 × (~0.5 × ~0.5).
	half := math.Log(math.Exp(5) / (math.Exp(5)*2 + float64(net.v-2)))
	if want := math.Log(2) + 2*half; math.Abs(merged.logp-want) > 1e-9 {
		t.Errorf("merged logp %v, want %v", merged.logp, want)
	}
}

// A batch of streams of different lengths gives each stream what it gets alone.
func TestBatchEqualsSolo(t *testing.T) {
	specs := [][]int{
		{0, 3, 0, 4, 0, 5, 6, 0, -ruleRepeat, 0, 9, 7, 8},
		{5, 0, 0, 6, 2, 2, 3, -ruleOlder},
		{0, 0, 10, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4},
	}
	for _, method := range []string{Greedy, ModifiedBeam} {
		net, s := newSearch(t, Options{Method: method})
		solo := make([][]decoder.Word, len(specs))
		for i, sp := range specs {
			st := s.NewStream(int64(i) * 1000)
			decodeChunks(t, s, st, net.frames(sp...), 4)
			solo[i] = st.Words()
		}
		streams := make([]*Stream, len(specs))
		for i := range streams {
			streams[i] = s.NewStream(int64(i) * 1000)
		}
		J := net.JoinerDim()
		for from := 0; ; from += 4 {
			var ss []*Stream
			var enc [][]float32
			for i, sp := range specs {
				if from < len(sp) {
					ss = append(ss, streams[i])
					e := net.frames(sp...)
					enc = append(enc, e[from*J:min(len(sp), from+4)*J])
				}
			}
			if len(ss) == 0 {
				break
			}
			if err := s.Decode(ss, enc); err != nil {
				t.Fatal(err)
			}
		}
		for i := range specs {
			if got := streams[i].Words(); !reflect.DeepEqual(got, solo[i]) {
				t.Errorf("%s stream %d: batch %+v\nsolo %+v", method, i, got, solo[i])
			}
		}
	}
}

// Cut keeps the decoder context (icefall reset, §1.9) and the media time.
func TestCut(t *testing.T) {
	for _, method := range []string{Greedy, ModifiedBeam} {
		net, s := newSearch(t, Options{Method: method})
		st := s.NewStream(1000)
		decodeChunks(t, s, st, net.frames(3, 4, 0, 5, 0, 0), 3)
		calls := net.decRows
		words := st.Cut()
		if len(words) != 2 || words[0].Text != "HELLO" || words[1].Text != "WOR" {
			t.Fatalf("%s: cut words %+v", method, words)
		}
		if st.Frames() != 0 || len(st.Words()) != 0 || st.Anchor() != 1000+6*4*FrameTicks {
			t.Errorf("%s: after cut frames %d words %v anchor %d", method, st.Frames(), st.Words(), st.Anchor())
		}
		if got := st.Context(); !reflect.DeepEqual(got, []int{4, 5}) {
			t.Errorf("%s: context after cut %v, want [4 5]", method, got)
		}
		// The seeded context reuses the cached decoder output.
		decodeChunks(t, s, st, net.frames(0), 1)
		if net.decRows != calls {
			t.Errorf("%s: decoder ran %d rows on the seeded context", method, net.decRows-calls)
		}
		decodeChunks(t, s, st, net.frames(-ruleOlder), 1) // older = LO
		if got := st.Tokens(); !reflect.DeepEqual(got, []int{4}) {
			t.Errorf("%s: tokens after cut %v, want [4]", method, got)
		}
		if w := st.Words(); len(w) != 1 || w[0].Start != 1000+7*4*FrameTicks {
			t.Errorf("%s: words after cut %+v", method, w)
		}
		st.Reset(5)
		if got := st.Context(); !reflect.DeepEqual(got, []int{-1, 0}) || st.Anchor() != 5 || st.Frames() != 0 {
			t.Errorf("%s: after Reset context %v anchor %d", method, got, st.Anchor())
		}
	}
}

func TestErrors(t *testing.T) {
	tok := tokens(t)
	if _, err := New(&fakeNet{c: 2, v: tok.Len() + 1}, tok, Options{}); !errors.Is(err, ErrVocab) {
		t.Errorf("vocab mismatch: %v", err)
	}
	if _, err := New(&fakeNet{c: 0, v: tok.Len()}, tok, Options{}); !errors.Is(err, ErrOptions) {
		t.Errorf("context 0: %v", err)
	}
	if _, err := New(nil, tok, Options{}); !errors.Is(err, ErrOptions) {
		t.Errorf("nil net: %v", err)
	}
	for _, o := range []Options{{Method: "viterbi"}, {Beam: -1}, {Beam: 65}, {MaxSymbolsPerFrame: -2}, {Subsampling: -1}} {
		if _, err := New(&fakeNet{c: 2, v: tok.Len()}, tok, o); !errors.Is(err, ErrOptions) {
			t.Errorf("options %+v: %v", o, err)
		}
	}
	for _, method := range []string{Greedy, ModifiedBeam} {
		net, s := newSearch(t, Options{Method: method})
		st := s.NewStream(0)
		if err := s.Decode([]*Stream{st}, [][]float32{make([]float32, net.JoinerDim()+1)}); !errors.Is(err, ErrShape) {
			t.Errorf("%s: ragged encoder output: %v", method, err)
		}
		if err := s.Decode([]*Stream{st}, nil); !errors.Is(err, ErrShape) {
			t.Errorf("%s: missing encoder output: %v", method, err)
		}
		_, other := newSearch(t, Options{Method: method})
		if err := s.Decode([]*Stream{other.NewStream(0)}, [][]float32{net.frames(0)}); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: foreign stream: %v", method, err)
		}
		boom := errors.New("boom")
		net.failDecoder = boom
		if err := s.Decode([]*Stream{st}, [][]float32{net.frames(0)}); !errors.Is(err, boom) {
			t.Errorf("%s: decoder error: %v", method, err)
		}
		net.failDecoder, net.failJoiner = nil, boom
		if err := s.Decode([]*Stream{st}, [][]float32{net.frames(0)}); !errors.Is(err, boom) {
			t.Errorf("%s: joiner error: %v", method, err)
		}
		net.failJoiner, net.nanJoiner = nil, true
		if err := s.Decode([]*Stream{st}, [][]float32{net.frames(0)}); !errors.Is(err, ErrShape) {
			t.Errorf("%s: NaN logits: %v", method, err)
		}
	}
}

// InWord: false before any token and after a cut, true while fewer than
// wordGapFrames blank frames follow the last token, false after that.
func TestInWord(t *testing.T) {
	for _, method := range []string{Greedy, ModifiedBeam} {
		net, s := newSearch(t, Options{Method: method})
		st := s.NewStream(0)
		if st.InWord() {
			t.Errorf("%s: InWord before any frame", method)
		}
		decodeChunks(t, s, st, net.frames(3, 4, 0, 5, 0, 0), 3)
		if !st.InWord() {
			t.Errorf("%s: not InWord %d blank frames after a token", method, st.TrailingBlanks())
		}
		decodeChunks(t, s, st, net.frames(0), 1)
		if st.InWord() {
			t.Errorf("%s: InWord %d blank frames after a token", method, st.TrailingBlanks())
		}
		decodeChunks(t, s, st, net.frames(3), 1)
		st.Cut()
		if st.InWord() {
			t.Errorf("%s: InWord after Cut", method)
		}
	}
}
