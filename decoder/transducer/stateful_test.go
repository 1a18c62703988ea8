package transducer

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/ctc"
)

// NeMo-style token table: <unk> first, blank last.
const nemoTokens = "<unk> 0\n\u2581HEL 1\nLO 2\n\u2581WOR 3\nLD 4\n<0xC3> 5\n<0xA9> 6\n\u2581 7\n\u2581CAF 8\n<blk> 9\n"

// fakeStateful is a scripted stateful net. An encoder row is [rule, a, b, c];
// the prediction network's state is [newest, older, steps] and its output
// [newest, older]: so the older token reaches the joiner only through the
// state.
type fakeStateful struct {
	v          int
	decCalls   int
	decRows    int
	failDec    error
	zeroStates bool // drop the state feedback: every decoder call gets zeros
}

const (
	sRuleSilence = 0
	sRuleSeq     = 1 // emit a, b, c in turn (the one after the newest), then blank
	sRuleDitto   = 2 // repeat the newest token unless it is doubled already
	sRuleEndless = 3 // emit token 1 forever
)

func (n *fakeStateful) VocabSize() int        { return n.v }
func (n *fakeStateful) EncoderDim() int       { return 4 }
func (n *fakeStateful) DecoderDim() int       { return 2 }
func (n *fakeStateful) DecoderStateSize() int { return 3 }

func (n *fakeStateful) RunDecoder(tokens []int32, states, out, next []float32) error {
	if n.failDec != nil {
		return n.failDec
	}
	if len(states) != 3*len(tokens) || len(out) != 2*len(tokens) || len(next) != 3*len(tokens) {
		return errors.New("fakeStateful: bad decoder sizes")
	}
	n.decCalls++
	n.decRows += len(tokens)
	for r, tok := range tokens {
		st := states[3*r : 3*r+3]
		if n.zeroStates {
			st = []float32{0, 0, 0}
		}
		copy(next[3*r:], []float32{float32(tok), st[0], st[2] + 1})
		copy(out[2*r:], []float32{float32(tok), st[0]})
	}
	return nil
}

func (n *fakeStateful) RunJoiner(enc, dec, out []float32) error {
	blank := n.v - 1
	for r := 0; r < len(enc)/4; r++ {
		e, d, o := enc[4*r:4*r+4], dec[2*r:2*r+2], out[r*n.v:(r+1)*n.v]
		newest, older := int(d[0]), int(d[1])
		hot := blank
		switch int(e[0]) {
		case sRuleSeq:
			seq := []int{int(e[1]), int(e[2]), int(e[3])}
			hot = seq[0]
			for i, s := range seq {
				if s == newest {
					hot = blank
					if i+1 < len(seq) && seq[i+1] >= 0 {
						hot = seq[i+1]
					}
				}
			}
		case sRuleDitto:
			if newest != blank && older != newest {
				hot = newest
			}
		case sRuleEndless:
			hot = 1
		}
		for i := range o {
			o[i] = 0
		}
		o[hot] = 10
	}
	return nil
}

// sframe is one encoder frame: a rule and up to three tokens.
func sframes(rows ...[4]int) []float32 {
	out := make([]float32, 0, 4*len(rows))
	for _, r := range rows {
		for _, v := range r {
			out = append(out, float32(v))
		}
	}
	return out
}

var (
	sil   = [4]int{sRuleSilence}
	ditto = [4]int{sRuleDitto}
)

func seq(toks ...int) [4]int {
	r := [4]int{sRuleSeq, -1, -1, -1}
	copy(r[1:], toks)
	return r
}

func newStateful(t *testing.T, opts Options) (*fakeStateful, *Searcher) {
	t.Helper()
	tok, err := parseTokens(nemoTokens)
	if err != nil {
		t.Fatal(err)
	}
	net := &fakeStateful{v: tok.Len()}
	s, err := NewStateful(net, tok, opts)
	if err != nil {
		t.Fatal(err)
	}
	return net, s
}

func decodeStateful(t *testing.T, s *Searcher, st *Stream, enc []float32, chunk int) {
	t.Helper()
	for from := 0; from < len(enc); from += chunk * 4 {
		if err := s.Decode([]*Stream{st}, [][]float32{enc[from:min(len(enc), from+chunk*4)]}); err != nil {
			t.Fatal(err)
		}
	}
}

// NeMo greedy: several symbols per frame, the blank last, <unk> emitted
// (and skipped in the text), 80 ms frames, the decoder output and state
// cached across chunks.
func TestStatefulGreedy(t *testing.T) {
	for _, chunk := range []int{1, 2, 7} {
		net, s := newStateful(t, Options{})
		if s.BlankID() != 9 || !s.Stateful() || s.Options().MaxSymbolsPerFrame != 10 || s.Options().Subsampling != 8 {
			t.Fatalf("searcher: blank %d options %+v", s.BlankID(), s.Options())
		}
		st := s.NewStream(1000)
		enc := sframes(sil, seq(1, 2), sil, seq(0), seq(3, 4), ditto, sil, seq(8, 5, 6), sil, sil)
		decodeStateful(t, s, st, enc, chunk)
		if got := st.Tokens(); !reflect.DeepEqual(got, []int{1, 2, 0, 3, 4, 4, 8, 5, 6}) {
			t.Fatalf("chunk %d: tokens %v", chunk, got)
		}
		if got := st.TokenFrames(); !reflect.DeepEqual(got, []int64{1, 1, 3, 4, 4, 5, 7, 7, 7}) {
			t.Errorf("chunk %d: frames %v", chunk, got)
		}
		if got := st.Text(); got != "HELLO WORLDLD CAF\u00e9" {
			t.Errorf("chunk %d: text %q", chunk, got)
		}
		w := st.Words()
		if w[0].Start != 1000+1*8*FrameTicks || w[0].End != 1000+2*8*FrameTicks {
			t.Errorf("chunk %d: word 0 %+v", chunk, w[0])
		}
		// Two silent frames after the frame that emitted and then gave blank.
		if st.TrailingBlanks() != 3 {
			t.Errorf("chunk %d: trailing blanks %d, want 3", chunk, st.TrailingBlanks())
		}
		// One decoder row at the start, one per emitted token, none per chunk.
		if net.decRows != 1+9 {
			t.Errorf("chunk %d: decoder ran %d rows, want 10", chunk, net.decRows)
		}
		if got := st.Context(); !reflect.DeepEqual(got, []int{6}) {
			t.Errorf("chunk %d: context %v", chunk, got)
		}
	}
}

// The prediction network's state is fed back: without it the ditto rule
// cannot see that the token is doubled and repeats it up to the limit.
func TestStatefulStateFeedback(t *testing.T) {
	enc := sframes(sil, seq(3), ditto, sil)
	for _, zero := range []bool{false, true} {
		net, s := newStateful(t, Options{})
		net.zeroStates = zero
		st := s.NewStream(0)
		decodeStateful(t, s, st, enc, 1)
		want := []int{3, 3}
		if zero {
			want = []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}
		}
		if got := st.Tokens(); !reflect.DeepEqual(got, want) {
			t.Errorf("zero states %v: tokens %v, want %v", zero, got, want)
		}
	}
}

func TestStatefulMaxSymbols(t *testing.T) {
	for _, tc := range []struct{ max, want int }{{0, 10}, {1, 1}, {3, 3}} {
		_, s := newStateful(t, Options{MaxSymbolsPerFrame: tc.max})
		st := s.NewStream(0)
		decodeStateful(t, s, st, sframes([4]int{sRuleEndless}), 1)
		if got := len(st.Tokens()); got != tc.want || st.TrailingBlanks() != 0 {
			t.Errorf("max %d: %d tokens, %d trailing blanks", tc.max, got, st.TrailingBlanks())
		}
	}
	// One symbol per frame loses the second token of a two-token frame.
	_, s := newStateful(t, Options{MaxSymbolsPerFrame: 1})
	st := s.NewStream(0)
	decodeStateful(t, s, st, sframes(seq(1, 2), sil), 1)
	if got := st.Tokens(); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("one symbol per frame: %v", got)
	}
}

// A NeMo endpoint resets the prediction network (§1.9): blank context, zero
// state, fresh decoder output; media times continue.
func TestStatefulCut(t *testing.T) {
	net, s := newStateful(t, Options{})
	st := s.NewStream(500)
	decodeStateful(t, s, st, sframes(seq(1, 2), sil, sil), 2)
	words := st.Cut()
	if len(words) != 1 || words[0].Text != "HELLO" {
		t.Fatalf("cut words %+v", words)
	}
	if got := st.Context(); !reflect.DeepEqual(got, []int{9}) || st.Frames() != 0 || st.Anchor() != 500+3*8*FrameTicks {
		t.Errorf("after cut: context %v frames %d anchor %d", got, st.Frames(), st.Anchor())
	}
	rows := net.decRows
	decodeStateful(t, s, st, sframes(ditto, seq(3)), 1)
	if got := st.Tokens(); !reflect.DeepEqual(got, []int{3}) {
		t.Errorf("after cut: tokens %v (ditto must find nothing to repeat)", got)
	}
	if net.decRows != rows+2 {
		t.Errorf("after cut: decoder rows %d, want the blank restart and one emission", net.decRows-rows)
	}
	if w := st.Words(); len(w) != 1 || w[0].Start != 500+4*8*FrameTicks {
		t.Errorf("after cut: words %+v", w)
	}
}

func TestStatefulBatchEqualsSolo(t *testing.T) {
	specs := [][][4]int{
		{sil, seq(1, 2), sil, ditto, seq(3, 4), sil, seq(0, 8), sil},
		{seq(5, 6), ditto, sil},
		{sil, sil, sil, sil, sil, seq(7), sil, seq(1), ditto, ditto, sil, seq(3, 4)},
	}
	_, s := newStateful(t, Options{})
	solo := make([][]decoder.Word, len(specs))
	for i, sp := range specs {
		st := s.NewStream(int64(i) * 1000)
		decodeStateful(t, s, st, sframes(sp...), 3)
		solo[i] = st.Words()
	}
	net, s := newStateful(t, Options{})
	streams := make([]*Stream, len(specs))
	for i := range streams {
		streams[i] = s.NewStream(int64(i) * 1000)
	}
	for from := 0; ; from += 3 {
		var ss []*Stream
		var enc [][]float32
		for i, sp := range specs {
			if from < len(sp) {
				ss = append(ss, streams[i])
				enc = append(enc, sframes(sp[from:min(len(sp), from+3)]...))
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
			t.Errorf("stream %d: batch %+v\nsolo %+v", i, got, solo[i])
		}
	}
	if net.decCalls >= net.decRows {
		t.Errorf("decoder not batched: %d calls for %d rows", net.decCalls, net.decRows)
	}
}

func TestStatefulErrors(t *testing.T) {
	tok, err := parseTokens(nemoTokens)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStateful(&fakeStateful{v: tok.Len()}, tok, Options{Method: ModifiedBeam}); !errors.Is(err, ErrOptions) ||
		!strings.Contains(err.Error(), "stateful") {
		t.Errorf("beam: %v", err)
	}
	if _, err := NewStateful(&fakeStateful{v: tok.Len() + 1}, tok, Options{}); !errors.Is(err, ErrVocab) {
		t.Errorf("vocab: %v", err)
	}
	if _, err := NewStateful(nil, tok, Options{}); !errors.Is(err, ErrOptions) {
		t.Errorf("nil: %v", err)
	}
	net, s := newStateful(t, Options{})
	boom := errors.New("boom")
	net.failDec = boom
	if err := s.Decode([]*Stream{s.NewStream(0)}, [][]float32{sframes(sil)}); !errors.Is(err, boom) {
		t.Errorf("decoder error: %v", err)
	}
	if err := s.Decode([]*Stream{s.NewStream(0)}, [][]float32{make([]float32, 5)}); !errors.Is(err, ErrShape) {
		t.Errorf("ragged encoder output: %v", err)
	}
}

func parseTokens(s string) (*ctc.Tokens, error) { return ctc.ParseTokens(strings.NewReader(s)) }
