package onnx

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/ctc"
	"github.com/subtitled/subtitled/decoder/transducer"
)

// Tests of the zipformer2 CTC, NeMo CTC and NeMo transducer (FastConformer
// and Nemotron) fixtures of tools/familymodels.

var nemoTransducers = []string{FamilyNeMoTransducer, "nemotron"}

// nemoSound is one entry of testdata/models/families/nemo_sounds.json: a
// sound of the icefall table's kind, or one that emits two tokens.
type nemoSound struct {
	sound
	Tokens []string `json:"tokens"`
}

func loadNeMoSounds(t testing.TB) map[string]nemoSound {
	t.Helper()
	var st struct {
		Subsampling int         `json:"subsampling"`
		Pick        int         `json:"pick"`
		Silence     float32     `json:"silence"`
		Sounds      []nemoSound `json:"sounds"`
	}
	readJSON(t, filepath.Join(repoRoot, "testdata", "models", "families", "nemo_sounds.json"), &st)
	if st.Subsampling != 8 || st.Pick != nemoPick || st.Silence != silence || len(st.Sounds) != 19 {
		t.Fatalf("nemo_sounds.json: %+v", st)
	}
	out := map[string]nemoSound{}
	for _, s := range st.Sounds {
		out[s.Name] = s
	}
	return out
}

// nemoPick is the feature frame (after the window's pre-encode cache) that
// a NeMo fixture's output frame codes.
const nemoPick = 4

// fut is an utterance of dim-bin frames.
type fut struct {
	utterance
	dim int
}

func (u fut) len() int { return len(u.frames) / u.dim }

// sayNeMo is say for the NeMo fixtures: F-bin frames, sounds from
// nemo_sounds.json.
func sayNeMo(t testing.TB, F int, seed uint64, lead, tail int, names ...string) fut {
	t.Helper()
	table := loadNeMoSounds(t)
	band := func(n string) (int, bool) { s, ok := table[n]; return s.Band, ok }
	return fut{sayWith(t, rand.New(rand.NewPCG(seed, 9)), F, lead, tail, band, names), F}
}

// nemoExpected is what the NeMo fixtures' design says an utterance decodes
// to (tools/familymodels/README.md): output frame g codes feature frame
// P+8g+4 (P = window - shift); a sound is emitted at the first output frame
// after its last coded one. A token sound emits its token unless it is the
// newest token; DITTO1 repeats the newest token unless the one before is
// the same; NEW_YORK emits "▁New ▁York" (or what is left of it). The CTC
// fixture emits token sounds only.
func nemoExpected(t testing.TB, u fut, tok *ctc.Tokens, P int, isCTC bool) (ids []int, frames []int64) {
	t.Helper()
	table := loadNeMoSounds(t)
	blank := tok.Len() - 1
	newest, older := blank, blank
	emit := func(id int, g int64) {
		ids, frames = append(ids, id), append(frames, g)
		newest, older = id, newest
	}
	lookup := func(sym string) int {
		id, ok := tok.Lookup(sym)
		if !ok {
			t.Fatalf("no token %q", sym)
		}
		return id
	}
	for i, n := range u.sounds {
		s := table[n]
		last := -1
		for g := 0; P+8*g+nemoPick < u.ends[i]; g++ {
			if P+8*g+nemoPick >= u.onsets[i] {
				last = g
			}
		}
		if last < 0 {
			t.Fatalf("sound %d (%s) at %d..%d is never coded", i, n, u.onsets[i], u.ends[i])
		}
		g := int64(last + 1)
		switch {
		case s.Token != "":
			if id := lookup(s.Token); isCTC || id != newest {
				emit(id, g)
			}
		case isCTC:
		case s.Ditto == 1:
			if newest != blank && older != newest {
				emit(newest, g)
			}
		default:
			a, b := lookup(s.Tokens[0]), lookup(s.Tokens[1])
			if newest != a && newest != b {
				emit(a, g)
			}
			if newest == a {
				emit(b, g)
			}
		}
	}
	return ids, frames
}

// Sentences of the new fixtures. zipformer2 CTC uses the icefall sounds,
// where the ditto sounds give blank (a CTC model has no decoder context).
var (
	z2ctcSentence = []string{"THE", "CAT", "S", "SAT", "ON", "A", "MAT", "HA", "DITTO1", "NEW", "YORK",
		"DITTO2", "UNK", "CAF", "BYTE_C3", "BYTE_89", "SPACE", "BYTE_41"}
	z2ctcText = "THE CATS SAT ON A MAT HA NEW YORK CAF\u00c9 A"

	nemoCTCSentence = []string{"THE", "CAT", "S", "SAT", "ON", "A", "MAT", "COMMA", "HA", "DITTO1", "PERIOD",
		"NEW_YORK", "NEW", "YORK", "UNK", "CAF", "BYTE_C3", "BYTE_A9", "SPACE", "A", "PERIOD"}
	nemoCTCText = "The cats sat on a mat, ha. New York caf\u00e9 a."

	nemoSentence = []string{"THE", "CAT", "S", "SAT", "ON", "A", "MAT", "COMMA", "HA", "DITTO1", "PERIOD",
		"NEW_YORK", "COMMA", "NEW", "YORK", "DITTO1", "UNK", "CAF", "BYTE_C3", "BYTE_A9", "SPACE", "A", "PERIOD"}
	nemoText = "The cats sat on a mat, ha ha. New York, New York York caf\u00e9 a."
)

// ctcUtterance is the family's test utterance for a seed.
func ctcUtterance(t testing.TB, family string, seed uint64, lead, tail int) fut {
	if family == FamilyZipformer2CTC {
		return fut{say(t, seed, lead, tail, z2ctcSentence...), 80}
	}
	return sayNeMo(t, 80, seed, lead, tail, nemoCTCSentence...)
}

// streamCTC streams u through a fresh CTC streamer in ragged pieces.
func streamCTC(t testing.TB, m *Model, u fut, anchor int64, seed uint64) *Streamer {
	t.Helper()
	return fedStreamer(t, m.NewStreamer, anchor, u.frames, u.dim, randomPieces(seed, 3, 60))
}

func TestNewFamiliesDetected(t *testing.T) {
	for _, tc := range []struct {
		dir, family string
		transducer  bool
	}{
		{FamilyZipformer2CTC, FamilyZipformer2CTC, false},
		{FamilyNeMoCTC, FamilyNeMoCTC, false},
		{FamilyNeMoTransducer, FamilyNeMoTransducer, true},
		{"nemotron", FamilyNeMoTransducer, true},
	} {
		d, err := DetectFamily(familyDir(tc.dir))
		if err != nil {
			t.Fatal(err)
		}
		if d.Family != tc.family || d.Transducer != tc.transducer || !d.Supported {
			t.Errorf("%s: %+v", tc.dir, d)
		}
		if _, err := OpenTransducer(familyDir(tc.dir)); tc.transducer != (err == nil) {
			t.Errorf("%s: OpenTransducer: %v", tc.dir, err)
		}
		if _, err := OpenBundle(familyDir(tc.dir)); tc.transducer == (err == nil) {
			t.Errorf("%s: OpenBundle: %v", tc.dir, err)
		}
	}
}

func TestCTCFamilyContracts(t *testing.T) {
	for _, tc := range []struct {
		family            string
		feature           string
		T, S, R, blank, k int
		state             string
		index             int
		reset             bool
		stateBatchAxes    []int
		describe          string
	}{
		{FamilyZipformer2CTC, FeatureKaldi, 45, 32, 4, 0, 20, "embed_states[N,128,3,19]", 18, false, nil,
			"outputs: log_probs[?,8,18] float32"},
		{FamilyNeMoCTC, FeatureNeMo, 57, 48, 8, 17, 3, "cache_last_channel[N,2,10,24]", 0, true, []int{0, 0, 0, 0},
			"inputs: audio_signal[?,80,?] float32, length[?] int64, cache_last_channel[?,2,10,24] float32"},
	} {
		m := openCTC(t, familyDir(tc.family))
		b, c := m.Bundle(), m.Contract()
		if c.Family != tc.family || c.FeatureType != tc.feature || c.FeatureDim != 80 || c.ChunkFrames != tc.T ||
			c.ChunkShift != tc.S || c.Subsampling != tc.R || c.BlankID != tc.blank || len(c.States) != tc.k ||
			c.VocabSize != 18 || c.MaxBatch != 0 || c.ResetOnEndpoint != tc.reset || b.States() != tc.k {
			t.Errorf("%s: contract %+v", tc.family, c)
		}
		if s := c.States[tc.index]; s.Name+shapeString(s) != tc.state {
			t.Errorf("%s: state %d is %s, want %s", tc.family, tc.index, s.Name+shapeString(s), tc.state)
		}
		if tc.stateBatchAxes != nil && !reflect.DeepEqual(c.StateBatchAxes, tc.stateBatchAxes) {
			t.Errorf("%s: state batch axes %v", tc.family, c.StateBatchAxes)
		}
		if len(c.StateBatchAxes) != len(b.Inputs)-1 {
			t.Errorf("%s: %d state batch axes for %d inputs", tc.family, len(c.StateBatchAxes), len(b.Inputs))
		}
		if !strings.Contains(b.Describe(), tc.describe) {
			t.Errorf("%s: %s", tc.family, b.Describe())
		}
	}
}

func TestNeMoTransducerParams(t *testing.T) {
	for _, tc := range []struct {
		dir                      string
		F, T, S, out, D, H, L, C int
		ms                       string
	}{
		{FamilyNeMoTransducer, 80, 17, 8, 1, 24, 40, 2, 6, ""},
		{"nemotron", 128, 65, 56, 7, 20, 40, 3, 8, "560"},
	} {
		b, err := OpenTransducer(familyDir(tc.dir))
		if err != nil {
			t.Fatal(err)
		}
		p := b.Params
		if p.Family != FamilyNeMoTransducer || p.FeatureType != FeatureNeMo || p.FeatureDim != tc.F ||
			p.ChunkFrames != tc.T || p.ChunkShift != tc.S || p.Subsampling != 8 || p.OutFrames != tc.out ||
			p.EncoderDim != tc.D || p.DecoderDim != tc.H || p.ContextSize != 1 || p.VocabSize != 18 ||
			p.BlankID != 17 || p.UnkID != -1 || !p.ResetOnEndpoint || p.JoinerDim != 0 || p.MaxBatch != 0 {
			t.Errorf("%s: params %+v", tc.dir, p)
		}
		want := []string{
			"cache_last_channel[N," + itoa(tc.L) + "," + itoa(tc.C) + "," + itoa(tc.D) + "]",
			"cache_last_time[N," + itoa(tc.L) + "," + itoa(tc.D) + ",",
			"cache_last_channel_len[N]",
		}
		for j, s := range p.States {
			if got := s.Name + shapeString(s); !strings.HasPrefix(got, want[j]) {
				t.Errorf("%s: state %d %s, want %s", tc.dir, j, got, want[j])
			}
		}
		if d := p.DecoderStates; len(d) != 2 || d[0].Name != "states.1" || d[1].Name != "onnx::LSTM_3" ||
			shapeString(d[0]) != "[2,N,40]" {
			t.Errorf("%s: decoder states %+v", tc.dir, d)
		}
		floats := int64(tc.L*tc.C*tc.D) + int64(tc.L*tc.D)*p.States[1].Shape[3]
		if got, want := p.StateBytes(), floats*4+8+2*2*40*4; got != int64(want) {
			t.Errorf("%s: state bytes %d, want %d", tc.dir, got, want)
		}
		if got := b.Encoder.Metadata["chunk_size_ms"]; got != tc.ms {
			t.Errorf("%s: chunk_size_ms %q", tc.dir, got)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Greedy CTC over the two new single-file families: the text, word times
// and the number of model calls of the design.
func TestCTCFamiliesDecode(t *testing.T) {
	const anchor = 270_000
	for _, family := range []string{FamilyZipformer2CTC, FamilyNeMoCTC} {
		t.Run(family, func(t *testing.T) {
			m := openCTC(t, familyDir(family))
			c := m.Contract()
			text := map[string]string{FamilyZipformer2CTC: z2ctcText, FamilyNeMoCTC: nemoCTCText}[family]
			for seed := uint64(1); seed <= 3; seed++ {
				u := ctcUtterance(t, family, seed, 16+int(seed)*5, 20)
				s := streamCTC(t, m, u, anchor, seed)
				if got := s.Text(); got != text {
					t.Fatalf("seed %d: text %q, want %q", seed, got, text)
				}
				var ids []int
				var frames []int64
				if family == FamilyNeMoCTC {
					ids, frames = nemoExpected(t, u, m.Bundle().Tokens, c.ChunkFrames-c.ChunkShift, true)
				} else {
					ids, frames = z2ctcExpected(t, u.utterance, m.Bundle().Tokens)
				}
				tw := m.Bundle().Tokens.Words(ids, frames, nil)
				words := s.Words()
				if len(words) != len(tw) {
					t.Fatalf("seed %d: words %+v, want %+v", seed, words, tw)
				}
				sub := int64(c.Subsampling) * 900
				for i, w := range words {
					if w.Text != tw[i].Text || w.Start != anchor+tw[i].First*sub || w.End != anchor+(tw[i].Last+1)*sub ||
						w.Conf < 0.99 || w.Conf > 1 {
						t.Errorf("seed %d: word %d %+v, want %+v", seed, i, w, tw[i])
					}
				}
				// Windows until every accepted frame was in the emitted part of one.
				if want := (int64(u.len()) + int64(c.ChunkShift) - 1) / int64(c.ChunkShift); s.Calls() != want {
					t.Errorf("seed %d: %d calls, want %d", seed, s.Calls(), want)
				}
			}
		})
	}
}

// z2ctcExpected is what the zipformer2 CTC fixture's design says an
// utterance decodes to: each token sound (<unk> too) at the first output
// frame that holds at least 2 of its feature frames; ditto sounds give
// blank.
func z2ctcExpected(t testing.TB, u utterance, tok *ctc.Tokens) (ids []int, frames []int64) {
	t.Helper()
	table := loadSounds(t)
	for i, n := range u.sounds {
		s := table[n]
		if s.Ditto > 0 {
			continue
		}
		id, ok := tok.Lookup(s.Token)
		if !ok {
			t.Fatalf("no token %q", s.Token)
		}
		ids, frames = append(ids, id), append(frames, int64((u.onsets[i]+1)/4))
	}
	return ids, frames
}

// decodeNeMoSolo streams an utterance through a fresh streamer in ragged
// pieces.
func decodeNeMoSolo(t testing.TB, m *TransducerModel, u fut, anchor int64, seed uint64) *TransducerStreamer {
	t.Helper()
	return fedStreamer(t, m.NewStreamer, anchor, u.frames, u.dim, randomPieces(seed, 5, 70))
}

// NeMo greedy through the FastConformer (80 bins, 80 ms chunks) and
// Nemotron (128 bins, 560 ms chunks) fixtures: tokens and frames of the
// design, several symbols in one frame, DITTO1 through the LSTM state.
func TestNeMoTransducerDecode(t *testing.T) {
	const anchor = 90_000
	for _, dir := range nemoTransducers {
		t.Run(dir, func(t *testing.T) {
			m := openFamily(t, dir, transducer.Options{})
			p := m.Params()
			for seed := uint64(1); seed <= 3; seed++ {
				u := sayNeMo(t, p.FeatureDim, seed, 16+int(seed)*3, 20, nemoSentence...)
				s := decodeNeMoSolo(t, m, u, anchor, seed)
				if got := s.Text(); got != nemoText {
					t.Fatalf("seed %d: text %q, want %q", seed, got, nemoText)
				}
				ids, frames := nemoExpected(t, u, m.Bundle().Tokens, p.ChunkFrames-p.ChunkShift, false)
				if got := s.Search().Tokens(); !reflect.DeepEqual(got, ids) {
					t.Errorf("seed %d: tokens %v, want %v", seed, got, ids)
				}
				if got := s.Search().TokenFrames(); !reflect.DeepEqual(got, frames) {
					t.Errorf("seed %d: token frames %v, want %v", seed, got, frames)
				}
				words := s.Words()
				if w := words[0]; w.Text != "The" || w.Start != anchor+frames[0]*8*900 || w.End != anchor+(frames[0]+1)*8*900 {
					t.Errorf("seed %d: word 0 %+v", seed, w)
				}
				for i, w := range words {
					if w.Conf < 0.99 || w.Conf > 1 {
						t.Errorf("seed %d: word %d conf %v", seed, i, w.Conf)
					}
				}
				L := int64(u.len())
				wantCalls := (L+int64(m.tailPad)-int64(p.ChunkFrames))/int64(p.ChunkShift) + 1
				if s.Frames() != L || s.Calls() != wantCalls || s.Search().Frames() != wantCalls*int64(p.OutFrames) {
					t.Errorf("seed %d: frames %d calls %d (want %d) output frames %d", seed, s.Frames(), s.Calls(), wantCalls, s.Search().Frames())
				}
			}
		})
	}
}

// decodeCTCWith decodes frames ([L][F]) one window at a time through
// Model.Run, applying tamper to the state before every call but the first.
func decodeCTCWith(t *testing.T, m *Model, frames []float32, tamper func(st *StreamState)) string {
	t.Helper()
	c := m.Contract()
	T, S, F := c.ChunkFrames, c.ChunkShift, c.FeatureDim
	st := m.NewStreamState()
	g, err := ctc.NewGreedy(m.Bundle().Tokens, c.BlankID, c.Subsampling, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, T*F)
	for call := 0; call*S*F < len(frames); call++ {
		for i := range w {
			w[i] = c.PadValue
		}
		copy(w, frames[call*S*F:])
		if call > 0 {
			tamper(st)
		}
		lp, err := m.Run(w, []*StreamState{st})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Accept(lp[0]); err != nil {
			t.Fatal(err)
		}
	}
	return g.Text()
}

// The CTC families use their states: zeroing them all, or any single one,
// before each call changes the transcript.
func TestCTCFamiliesStateFeedbackMatters(t *testing.T) {
	for _, family := range []string{FamilyZipformer2CTC, FamilyNeMoCTC} {
		m := openCTC(t, familyDir(family))
		text := map[string]string{FamilyZipformer2CTC: z2ctcText, FamilyNeMoCTC: nemoCTCText}[family]
		u := ctcUtterance(t, family, 11, 21, 20)
		checkStatesMatter(t, family, text, m.Contract().States,
			func(tamper func(*StreamState)) string { return decodeCTCWith(t, m, u.frames, tamper) },
			(*StreamState).Reset,
			func(st *StreamState, j int) {
				clear(st.data[j])
				clear(st.i64[j])
			})
	}
}

// nemoDecodeWith decodes u chunk by chunk through a NeMo transducer whose
// prediction network gets its states through zero: "h" or "c" zeroes that
// state, "" feeds both back.
func nemoDecodeWith(t *testing.T, m *TransducerModel, u fut, zero string) string {
	t.Helper()
	search, err := transducer.NewStateful(zeroStateNet{nemoNet{m}, zero}, m.Bundle().Tokens, transducer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := m.Params()
	st, ss := m.NewEncoderState(), search.NewStream(0)
	frames := append(slices.Clone(u.frames), make([]float32, m.tailPad*p.FeatureDim)...)
	for i := u.len() * p.FeatureDim; i < len(frames); i++ {
		frames[i] = p.PadValue
	}
	w := p.ChunkFrames * p.FeatureDim
	for off := 0; off+w <= len(frames); off += p.ChunkShift * p.FeatureDim {
		enc, err := m.RunEncoder(frames[off:off+w], []*EncoderState{st})
		if err != nil {
			t.Fatal(err)
		}
		if err := search.Decode([]*transducer.Stream{ss}, enc); err != nil {
			t.Fatal(err)
		}
	}
	return ss.Text()
}

// zeroStateNet drops the feedback of one or both LSTM states.
type zeroStateNet struct {
	nemoNet
	zero string // "h", "c", "hc" or ""
}

func (z zeroStateNet) RunDecoder(tokens []int32, states, out, next []float32) error {
	states = slices.Clone(states)
	S := z.DecoderStateSize()
	for r := range tokens {
		row := states[r*S : (r+1)*S]
		if strings.Contains(z.zero, "h") {
			clear(row[:S/2])
		}
		if strings.Contains(z.zero, "c") {
			clear(row[S/2:])
		}
	}
	return z.nemoNet.RunDecoder(tokens, states, out, next)
}

// A NeMo transducer uses its encoder caches and its prediction network's
// LSTM states: zeroing any of them changes the transcript.
func TestNeMoStateFeedbackMatters(t *testing.T) {
	for _, dir := range nemoTransducers {
		m := openFamily(t, dir, transducer.Options{})
		p := m.Params()
		u := sayNeMo(t, p.FeatureDim, 12, 17, 20, nemoSentence...)
		checkEncoderStatesMatter(t, dir+" encoder", m, u.utterance, nemoText)
		if got := nemoDecodeWith(t, m, u, ""); got != nemoText {
			t.Fatalf("%s: prediction network fed back: %q", dir, got)
		}
		for _, zero := range []string{"hc", "h", "c"} {
			got := nemoDecodeWith(t, m, u, zero)
			if zero == "hc" {
				t.Logf("%s without LSTM state feedback: %q", dir, got)
			}
			if got == nemoText {
				t.Errorf("%s: zeroing LSTM state %q does not change the text", dir, zero)
			}
		}
	}
}

// More than one symbol per frame is what NEW_YORK needs; a NeMo model
// refuses modified beam search.
func TestNeMoSearchOptions(t *testing.T) {
	u := sayNeMo(t, 80, 4, 20, 20, "NEW_YORK", "A", "NEW_YORK")
	m := openFamily(t, FamilyNeMoTransducer, transducer.Options{MaxSymbolsPerFrame: 1})
	if got := decodeNeMoSolo(t, m, u, 0, 1).Text(); got != "New a New" {
		t.Errorf("one symbol per frame: %q", got)
	}
	m = openFamily(t, FamilyNeMoTransducer, transducer.Options{})
	if got := decodeNeMoSolo(t, m, u, 0, 1).Text(); got != "New York a New York" {
		t.Errorf("default: %q", got)
	}
	if s := m.Searcher(); !s.Stateful() || s.BlankID() != 17 || s.Options().MaxSymbolsPerFrame != 10 || s.Options().Subsampling != 8 {
		t.Errorf("searcher options %+v", s.Options())
	}
	b, _ := OpenTransducer(familyDir("nemotron"))
	if _, err := NewTransducerModel(b, TransducerOptions{Search: transducer.Options{Method: transducer.ModifiedBeam}}); !errors.Is(err, transducer.ErrOptions) {
		t.Errorf("beam: %v", err)
	}
}

// Three streams of different lengths, joining and leaving at different
// times, batched into one encoder call (states stacked along batch axis 0
// for the encoder caches and 1 for the LSTM states), decode exactly as
// alone.
func TestNeMoBatchEqualsSolo(t *testing.T) {
	scripts := [][]string{
		nemoSentence,
		{"NEW_YORK", "DITTO1", "COMMA", "HA", "DITTO1", "UNK", "CAF", "BYTE_C3", "BYTE_A9"},
		{"SPACE", "A", "MAT", "DITTO1", "PERIOD"},
	}
	for _, dir := range nemoTransducers {
		t.Run(dir, func(t *testing.T) {
			m := openFamily(t, dir, transducer.Options{})
			F := m.Params().FeatureDim
			var frames [][]float32
			var solo []*TransducerStreamer
			for i, sc := range scripts {
				u := sayNeMo(t, F, uint64(30+i), 16+9*i, 10+13*i, sc...)
				frames = append(frames, u.frames)
				solo = append(solo, decodeNeMoSolo(t, m, u, int64(i)*100_000, 1))
			}
			ss, batches := decodeStaggered(t, m, frames, F)
			if batches == 0 {
				t.Fatal("no call had more than one stream")
			}
			for i := range ss {
				checkSameAsSolo(t, i, ss[i], solo[i])
			}
			if ss[0].Text() != nemoText || ss[1].Text() != "New York York, ha ha caf\u00e9" || ss[2].Text() != "a mat mat." {
				t.Errorf("texts %q, %q, %q", ss[0].Text(), ss[1].Text(), ss[2].Text())
			}
		})
	}
}

// RunEncoder (transducers) and Run (CTC) of a batch give every stream
// exactly its solo outputs and states.
func TestNewFamiliesEncoderBatchExact(t *testing.T) {
	for _, dir := range nemoTransducers {
		m := openFamily(t, dir, transducer.Options{})
		p := m.Params()
		u := sayNeMo(t, p.FeatureDim, 3, 16, 200, nemoSentence...)
		w := p.ChunkFrames * p.FeatureDim
		solo := []*EncoderState{m.NewEncoderState(), m.NewEncoderState(), m.NewEncoderState()}
		batch := []*EncoderState{m.NewEncoderState(), m.NewEncoderState(), m.NewEncoderState()}
		checkEncoderBatchEqualsSolo(t, dir, m, 12, solo, batch, func(c, i int) []float32 {
			off := ((c*p.ChunkShift + 37*i) % (u.len() - p.ChunkFrames)) * p.FeatureDim
			return u.frames[off : off+w]
		})
		if solo[0].i64[2][0] != 6 && solo[0].i64[2][0] != 8 {
			t.Errorf("%s: cache_last_channel_len %d after 12 calls, want the cache size", dir, solo[0].i64[2][0])
		}
	}
	for _, family := range []string{FamilyZipformer2CTC, FamilyNeMoCTC} {
		m := openCTC(t, familyDir(family))
		c := m.Contract()
		u := ctcUtterance(t, family, 5, 16, 200)
		w := c.ChunkFrames * c.FeatureDim
		checkBatchEqualsSolo(t, family, 8, streamStates(m, 3), streamStates(m, 3),
			func(call, i int) []float32 {
				off := ((call*c.ChunkShift + 29*i) % (u.len() - c.ChunkFrames)) * c.FeatureDim
				return u.frames[off : off+w]
			},
			func(x []float32, sts []*StreamState) error { _, err := m.Run(x, sts); return err },
			func(a, b *StreamState) bool {
				return reflect.DeepEqual(a.logProbs, b.logProbs) && reflect.DeepEqual(a.data, b.data) && reflect.DeepEqual(a.i64, b.i64)
			})
	}
}

// Three CTC streams of different lengths through one Scheduler (batched
// calls, streams joining and leaving) decode as alone.
func TestCTCFamiliesSchedulerEqualsSolo(t *testing.T) {
	for _, family := range []string{FamilyZipformer2CTC, FamilyNeMoCTC} {
		t.Run(family, func(t *testing.T) {
			m := openCTC(t, familyDir(family))
			var us []fut
			var solo [][]decoder.Word
			for i := range 3 {
				u := ctcUtterance(t, family, uint64(40+i), 16+11*i, 10+7*i)
				u.frames = u.frames[:(u.len()-(40*i))*u.dim] // different lengths
				us = append(us, u)
				solo = append(solo, streamCTC(t, m, u, int64(i)*50_000, 2).Words())
			}
			// A long batch wait lets ready streams meet (no assertion on it).
			sched := NewScheduler(m, SchedulerOptions{MaxBatch: 3, Wait: 500 * time.Millisecond})
			defer sched.Close()
			checkScheduledEqualsSolo(t, sched, us, solo, 50_000, func(i int) int { return 13 + 4*i }, nil, (*Streamer).Words)
			if st := sched.Stats(); st.MaxBatchSeen < 2 {
				t.Logf("%s: no batch of more than one stream (%+v)", family, st)
			}
		})
	}
}

// checkScheduledEqualsSolo runs each utterance through its own streamer of
// sched (us[i] anchored at i·spacing) on its own goroutine, fed in pieces
// of step(i) frames, and fails when result of a streamer differs from solo.
// With after set, stream i starts once stream after(i) has left (at once
// when after(i) is negative).
func checkScheduledEqualsSolo[R any](t *testing.T, sched *Scheduler, us []fut, solo []R, spacing int64,
	step func(i int) int, after func(i int) int, result func(*Streamer) R) {
	t.Helper()
	got := make([]R, len(us))
	errs := make([]error, len(us))
	done := make([]chan struct{}, len(us))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			if after != nil && after(i) >= 0 {
				<-done[after(i)]
			}
			s, err := sched.NewStreamer(int64(i) * spacing)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			if errs[i] = feedFrames(s, u.frames, u.dim, evenPieces(step(i)), nil); errs[i] == nil {
				got[i] = result(s)
			}
		}()
	}
	wg.Wait()
	for i := range us {
		if errs[i] != nil {
			t.Fatalf("stream %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(got[i], solo[i]) {
			t.Errorf("stream %d: scheduled %+v\nsolo %+v", i, got[i], solo[i])
		}
	}
}

// At an endpoint a NeMo stream zeroes its encoder caches and restarts its
// prediction network (§1.9): DITTO1 after the cut has nothing to repeat.
// zipformer2 CTC keeps its states.
func TestNewFamiliesCut(t *testing.T) {
	for _, dir := range nemoTransducers {
		m := openFamily(t, dir, transducer.Options{})
		p := m.Params()
		a := sayNeMo(t, p.FeatureDim, 8, 20, 90, "NEW", "YORK")
		b := sayNeMo(t, p.FeatureDim, 9, 30, 20, "DITTO1", "HA", "DITTO1")
		s, err := m.NewStreamer(1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Accept(a.frames); err != nil {
			t.Fatal(err)
		}
		words := s.Cut()
		if len(words) != 2 || words[0].Text != "New" || words[1].Text != "York" {
			t.Fatalf("%s: first segment %+v", dir, words)
		}
		for j := range s.st.f32 {
			if slices.ContainsFunc(s.st.f32[j], func(v float32) bool { return v != 0 }) || slices.Contains(s.st.i64[j], 1) {
				t.Errorf("%s: encoder state %d not reset at the cut", dir, j)
			}
		}
		if got := s.Search().Context(); !reflect.DeepEqual(got, []int{17}) {
			t.Errorf("%s: context after the cut %v", dir, got)
		}
		acceptAll(t, s, b.frames)
		if got := s.Text(); got != "ha ha" {
			t.Errorf("%s: second segment %q, want \"ha ha\"", dir, got)
		}
	}
	m := openCTC(t, familyDir(FamilyZipformer2CTC))
	s, err := m.NewStreamer(0)
	if err != nil {
		t.Fatal(err)
	}
	u := say(t, 3, 10, 40, "THE", "CAT")
	if err := s.Accept(u.frames); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(s.st.i64[len(s.st.i64)-1])
	if w := s.Cut(); len(w) != 2 || w[1].Text != "CAT" || !reflect.DeepEqual(s.st.i64[len(s.st.i64)-1], before) || before[0] == 0 {
		t.Errorf("zipformer2 CTC cut: words %+v, processed_lens %v → %v", w, before, s.st.i64[len(s.st.i64)-1])
	}
}

func TestNewFamiliesErrors(t *testing.T) {
	replace := func(t *testing.T, v, file string) func(string) {
		return func(dir string) { copyFile(t, variant(v), filepath.Join(dir, file)) }
	}
	rewriteTokens := func(t *testing.T, edit func(lines []string) []string) func(string) {
		return func(dir string) {
			p := filepath.Join(dir, "tokens.txt")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
			if err := os.WriteFile(p, []byte(strings.Join(edit(lines), "")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	noTokens := func(dir string) { os.Remove(filepath.Join(dir, "tokens.txt")) }
	for _, tc := range []struct {
		name, family string
		edit         func(t *testing.T) func(string)
		want         error
		parts        []string
	}{
		// zipformer2 CTC.
		{"z2ctc missing state output", FamilyZipformer2CTC, func(t *testing.T) func(string) { return replace(t, "ctc_missing_state_output", "model.onnx") },
			ErrBundleContract, []string{"20 state inputs and 19 state outputs", "no output new_processed_lens", "inputs: x[?,45,80] float32"}},
		{"z2ctc wrong feature dim", FamilyZipformer2CTC, func(t *testing.T) func(string) { return replace(t, "ctc_wrong_feature_dim", "model.onnx") },
			ErrBundleContract, []string{"x[?,45,40] float32", "40-bin features", "80-bin Kaldi fbank"}},
		{"z2ctc token id out of range", FamilyZipformer2CTC, func(t *testing.T) func(string) { return replace(t, "ctc_vocab_too_large", "model.onnx") },
			ErrBundleContract, []string{"log_probs[?,8,22] float32 scores 22 tokens", "token ids 18..21 would have no symbol"}},
		{"z2ctc inconsistent metadata", FamilyZipformer2CTC, func(t *testing.T) func(string) { return replace(t, "ctc_inconsistent_metadata", "model.onnx") },
			ErrBundleContract, []string{"cached_nonlin_attn_0[1,N,16,15], derived from the metadata"}},
		{"z2ctc missing tokens.txt", FamilyZipformer2CTC, func(*testing.T) func(string) { return noTokens }, ErrBundleTokensMissing, []string{"tokens.txt"}},
		{"z2ctc no blank", FamilyZipformer2CTC, func(t *testing.T) func(string) {
			return rewriteTokens(t, func(l []string) []string { l[0] = "<nothing> 0\n"; return l })
		}, ErrBundleContract, []string{"no blank symbol (<blk>, <eps> or <blank>)"}},
		{"z2ctc short tokens.txt", FamilyZipformer2CTC, func(t *testing.T) func(string) {
			return rewriteTokens(t, func(l []string) []string { return l[:15] })
		}, ErrBundleContract, []string{"scores 18 tokens but", "has 15"}},
		// NeMo CTC.
		{"nemo ctc missing state output", FamilyNeMoCTC, func(t *testing.T) func(string) { return replace(t, "nemo_ctc_missing_state_output", "model.onnx") },
			ErrBundleContract, []string{"3 state inputs but 4 outputs", "no output cache_last_channel_next", "inputs: audio_signal[?,80,?] float32"}},
		{"nemo ctc wrong feature dim", FamilyNeMoCTC, func(t *testing.T) func(string) { return replace(t, "nemo_ctc_wrong_feature_dim", "model.onnx") },
			ErrBundleContract, []string{"audio_signal[?,40,?] float32 takes 40-bin features but metadata feat_dim is 80"}},
		{"nemo ctc token id out of range", FamilyNeMoCTC, func(t *testing.T) func(string) { return replace(t, "nemo_ctc_vocab_too_large", "model.onnx") },
			ErrBundleContract, []string{"logprobs[?,6,22] float32 scores 22 tokens", "token ids 18..21 would have no symbol"}},
		{"nemo ctc missing tokens.txt", FamilyNeMoCTC, func(*testing.T) func(string) { return noTokens }, ErrBundleTokensMissing, []string{"tokens.txt"}},
		{"nemo ctc blank not last", FamilyNeMoCTC, func(t *testing.T) func(string) {
			return rewriteTokens(t, func(l []string) []string { l[0], l[17] = "<blk> 0\n", "<unk> 17"; return l })
		}, ErrBundleContract, []string{`the last token of`, `is "<unk>"; NeMo models put the blank <blk> last`}},
		{"nemo ctc extra token", FamilyNeMoCTC, func(t *testing.T) func(string) {
			return rewriteTokens(t, func(l []string) []string { return append(l[:17:17], "x 17\n", "<blk> 18") })
		}, ErrBundleContract, []string{"logprobs[?,6,18] float32 has width 18, want the token count = 19"}},
		// NeMo transducers.
		{"nemo encoder missing state output", FamilyNeMoTransducer, func(t *testing.T) func(string) {
			return replace(t, "nemo_encoder_missing_state_output", "encoder.onnx")
		}, ErrBundleContract, []string{"encoder.onnx: the encoder has 3 state inputs but 4 outputs", "no output cache_last_channel_next",
			"decoder.onnx: inputs: targets[?,1] int32"}},
		{"nemo decoder missing state output", FamilyNeMoTransducer, func(t *testing.T) func(string) {
			return replace(t, "nemo_decoder_missing_state_output", "decoder.onnx")
		}, ErrBundleContract, []string{"decoder.onnx: the decoder has 3 outputs", "2 LSTM state inputs but 1 state outputs"}},
		{"nemo wrong feature dim", FamilyNeMoTransducer, func(t *testing.T) func(string) { return replace(t, "nemo_encoder_wrong_feature_dim", "encoder.onnx") },
			ErrBundleContract, []string{"audio_signal[?,40,?] float32 takes 40-bin features but metadata feat_dim is 80"}},
		{"nemo per-feature normalisation", FamilyNeMoTransducer, func(t *testing.T) func(string) { return replace(t, "nemo_encoder_per_feature", "encoder.onnx") },
			ErrBundleContract, []string{`normalize_type "per_feature" is not supported`}},
		{"nemo token id out of range", FamilyNeMoTransducer, func(t *testing.T) func(string) { return replace(t, "nemo_joiner_vocab_too_large", "joiner.onnx") },
			ErrBundleContract, []string{"outputs[?,1,1,22] float32 scores 22 tokens", "token ids 18..21 would have no symbol"}},
		{"nemo vocab_size", FamilyNeMoTransducer, func(t *testing.T) func(string) {
			return rewriteTokens(t, func(l []string) []string { return append(l[:17:17], "x 17\n", "<blk> 18") })
		}, ErrBundleContract, []string{"vocab_size 17 + blank does not match the 19 tokens"}},
		{"nemo missing tokens.txt", FamilyNeMoTransducer, func(*testing.T) func(string) { return noTokens }, ErrBundleTokensMissing, []string{"tokens.txt"}},
		{"nemo decoder of another model", FamilyNeMoTransducer, func(t *testing.T) func(string) {
			return func(dir string) {
				copyFile(t, filepath.Join(familyDir("nemotron"), "joiner.onnx"), filepath.Join(dir, "joiner.onnx"))
			}
		}, ErrBundleContract, []string{"joiner.onnx: input 0 encoder_outputs[?,20,1] float32 has width 20, want 24"}},
		{"nemotron inconsistent metadata", "nemotron", func(t *testing.T) func(string) {
			return replace(t, "nemotron_encoder_inconsistent_metadata", "encoder.onnx")
		}, ErrBundleContract, []string{`chunk_size_ms="160" disagrees with chunk_shift 56`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFamily(t, tc.family, tc.edit(t))
			var err error
			if d, derr := DetectFamily(dir); derr == nil && d.Transducer {
				var b *TransducerBundle
				b, err = OpenTransducer(dir)
				if b != nil {
					t.Error("bundle returned with the error")
				}
			} else {
				var b *Bundle
				b, err = OpenBundle(dir)
				if b != nil {
					t.Error("bundle returned with the error")
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			mustContain(t, err, tc.parts...)
		})
	}
}

// The prediction network refuses token ids outside the vocabulary and
// rows of the wrong size rather than running on them.
func TestNeMoNetErrors(t *testing.T) {
	m := openFamily(t, FamilyNeMoTransducer, transducer.Options{})
	n := nemoNet{m}
	S, H := n.DecoderStateSize(), n.DecoderDim()
	if err := n.RunDecoder([]int32{18}, make([]float32, S), make([]float32, H), make([]float32, S)); !errors.Is(err, ErrBatch) {
		t.Errorf("token 18: %v", err)
	}
	if err := n.RunDecoder([]int32{1}, make([]float32, S-1), make([]float32, H), make([]float32, S)); !errors.Is(err, ErrBatch) {
		t.Errorf("short state: %v", err)
	}
	if err := n.RunJoiner(make([]float32, 24), make([]float32, 39), make([]float32, 18)); !errors.Is(err, ErrBatch) {
		t.Errorf("short decoder row: %v", err)
	}
	if _, err := m.RunEncoder(make([]float32, 10), []*EncoderState{m.NewEncoderState()}); !errors.Is(err, ErrBatch) {
		t.Errorf("short x: %v", err)
	}
	if err := m.RunDecoder([]int64{1}, make([]float32, 40)); !errors.Is(err, ErrBatch) {
		t.Errorf("icefall decoder call on a NeMo model: %v", err)
	}
	if err := m.RunJoiner(make([]float32, 24), make([]float32, 40), make([]float32, 18)); !errors.Is(err, ErrBatch) {
		t.Errorf("icefall joiner call on a NeMo model: %v", err)
	}
	m.Close()
	if err := n.RunDecoder([]int32{1}, make([]float32, S), make([]float32, H), make([]float32, S)); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
}

// checkEncoderBatchEqualsSolo is checkBatchEqualsSolo for RunEncoder: the
// encoder outputs and states of every stream.
func checkEncoderBatchEqualsSolo(t *testing.T, name string, m *TransducerModel, calls int, solo, batch []*EncoderState, win func(call, i int) []float32) {
	t.Helper()
	checkBatchEqualsSolo(t, name, calls, solo, batch, win,
		func(x []float32, sts []*EncoderState) error { _, err := m.RunEncoder(x, sts); return err },
		func(a, b *EncoderState) bool {
			return reflect.DeepEqual(a.out, b.out) && reflect.DeepEqual(a.f32, b.f32) && reflect.DeepEqual(a.i64, b.i64)
		})
}

// checkBatchEqualsSolo makes calls model calls for the streams, each window
// (win(call, i)) once alone and once in one batched call, and fails when a
// stream's outputs or states (same) differ between the two.
func checkBatchEqualsSolo[S any](t *testing.T, name string, calls int, solo, batch []*S,
	win func(call, i int) []float32, run func(x []float32, sts []*S) error, same func(a, b *S) bool) {
	t.Helper()
	for call := 0; call < calls; call++ {
		var x []float32
		for i := range solo {
			w := win(call, i)
			x = append(x, w...)
			if err := run(w, solo[i:i+1]); err != nil {
				t.Fatal(err)
			}
		}
		if err := run(x, batch); err != nil {
			t.Fatal(err)
		}
		for i := range solo {
			if !same(solo[i], batch[i]) {
				t.Fatalf("%s call %d stream %d: batched outputs/states differ from solo", name, call, i)
			}
		}
	}
}
