package onnx

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder/ctc"
	"github.com/subtitled/subtitled/decoder/transducer"
)

var transducerFamilies = []string{FamilyZipformer2, FamilyZipformer, FamilyLSTM}

func familyDir(family string) string {
	return filepath.Join(repoRoot, "testdata", "models", "families", family)
}

// sound is one entry of testdata/models/families/sounds.json.
type sound struct {
	Class int    `json:"class"`
	Name  string `json:"name"`
	Band  int    `json:"band"`
	Token string `json:"token"`
	Ditto int    `json:"ditto"`
}

type soundTable struct {
	FeatureDim  int     `json:"feature_dim"`
	Subsampling int     `json:"subsampling"`
	Silence     float32 `json:"silence"`
	Threshold   float32 `json:"threshold"`
	Sounds      []sound `json:"sounds"`
}

func loadSounds(t testing.TB) map[string]sound {
	t.Helper()
	var st soundTable
	readJSON(t, filepath.Join(repoRoot, "testdata", "models", "families", "sounds.json"), &st)
	if st.FeatureDim != 80 || st.Subsampling != 4 || st.Silence != silence || len(st.Sounds) != 18 {
		t.Fatalf("sounds.json: %+v", st)
	}
	out := map[string]sound{}
	for _, s := range st.Sounds {
		out[s.Name] = s
	}
	return out
}

// utterance is a synthetic fbank stream of sounds.
type utterance struct {
	frames []float32 // [L][80] (fut: [L][dim])
	sounds []string
	onsets []int // feature frame where each sound starts
	ends   []int // feature frame after each sound
}

// sayWith builds F-bin log-mel frames: lead frames of silence, then per
// sound a tone of 10..22 frames at level ~0 in its band (band(name))
// followed by 8..14 frames of silence, then tail frames of silence. Levels
// carry a little noise from rng.
func sayWith(t testing.TB, rng *rand.Rand, F, lead, tail int, band func(name string) (int, bool), names []string) utterance {
	t.Helper()
	var u utterance
	add := func(n, band int) {
		for range n {
			fr := make([]float32, F)
			for b := range fr {
				fr[b] = silence + rng.Float32()
			}
			if band >= 0 {
				fr[band] = rng.Float32()*2 - 1
			}
			u.frames = append(u.frames, fr...)
		}
	}
	add(lead, -1)
	for _, n := range names {
		b, ok := band(n)
		if !ok {
			t.Fatalf("no sound %q", n)
		}
		u.sounds = append(u.sounds, n)
		u.onsets = append(u.onsets, len(u.frames)/F)
		add(10+rng.IntN(13), b)
		u.ends = append(u.ends, len(u.frames)/F)
		add(8+rng.IntN(7), -1)
	}
	add(tail, -1)
	return u
}

// say is sayWith for the icefall fixtures: 80 bins, sounds from sounds.json.
func say(t testing.TB, seed uint64, lead, tail int, names ...string) utterance {
	t.Helper()
	table := loadSounds(t)
	band := func(n string) (int, bool) { s, ok := table[n]; return s.Band, ok }
	return sayWith(t, rand.New(rand.NewPCG(seed, 7)), 80, lead, tail, band, names)
}

func (u utterance) len() int { return len(u.frames) / 80 }

// expected is what the fixture's design says the utterance decodes to: each
// token sound emits its token at the first output frame that holds at least
// 2 of its feature frames (the pooled level is then above threshold);
// <unk> is dropped, DITTO1 repeats the newest context token and DITTO2 the
// one before (nothing when that is blank or none).
func (u utterance) expected(t testing.TB, tok *ctc.Tokens, context []int) (ids []int, frames []int64) {
	t.Helper()
	table := loadSounds(t)
	ctx := slices.Clone(context)
	for i, n := range u.sounds {
		s := table[n]
		id := -1
		switch {
		case s.Ditto > 0:
			id = ctx[len(ctx)-s.Ditto]
			if id <= 0 {
				continue
			}
		case s.Token == "<unk>":
			continue
		default:
			var ok bool
			if id, ok = tok.Lookup(s.Token); !ok {
				t.Fatalf("no token %q", s.Token)
			}
		}
		f := (u.onsets[i] + 1) / 4 // first i with |[4i,4i+4) ∩ [on,end)| >= 2
		ids = append(ids, id)
		frames = append(frames, int64(f))
		ctx = append(ctx, id)
	}
	return ids, frames
}

func openFamily(t testing.TB, family string, search transducer.Options) *TransducerModel {
	t.Helper()
	b, err := OpenTransducer(familyDir(family))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewTransducerModel(b, TransducerOptions{Options: Options{Threads: 1}, Search: search})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// sentence exercises word starts, a suffix piece, byte fallback, <unk>, a
// word break token and both ditto sounds (the decoder context).
var sentence = []string{"THE", "CAT", "S", "SAT", "ON", "A", "MAT", "HA", "DITTO1", "NEW", "YORK",
	"DITTO2", "DITTO2", "UNK", "CAF", "BYTE_C3", "BYTE_89", "SPACE", "BYTE_41"}

const sentenceText = "THE CATS SAT ON A MAT HA HA NEW YORK NEW YORK CAF\u00c9 A"

func TestDetectFamily(t *testing.T) {
	for _, f := range transducerFamilies {
		d, err := DetectFamily(familyDir(f))
		if err != nil {
			t.Fatal(err)
		}
		if d.Family != f || !d.Transducer || !d.Supported || d.Model.Path != "" ||
			filepath.Base(d.Encoder.Path) != "encoder.onnx" || filepath.Base(d.Joiner.Path) != "joiner.onnx" {
			t.Errorf("%s: %+v", f, d)
		}
	}
	d, err := DetectFamily(toneDir())
	if err != nil || d.Family != FamilySubtitledCTC || d.Transducer || !d.Supported {
		t.Errorf("tone: %+v, %v", d, err)
	}
	// The tone model's "wrong_model_type" variant says zipformer2 and has
	// log_probs: sherpa would take it for a zipformer2 CTC model (whose
	// contract OpenBundle then checks).
	dir := t.TempDir()
	copyFile(t, filepath.Join("testdata", "variants", "wrong_model_type.onnx"), filepath.Join(dir, "model.onnx"))
	if d, err := DetectFamily(dir); err != nil || d.Family != FamilyZipformer2CTC || !d.Supported {
		t.Errorf("zipformer2 CTC: %+v, %v", d, err)
	}
	copyFile(t, filepath.Join("testdata", "variants", "no_model_type.onnx"), filepath.Join(dir, "model.onnx"))
	_, err = DetectFamily(dir)
	if !errors.Is(err, ErrUnsupportedModel) {
		t.Errorf("no model_type: %v", err)
	}
	mustContain(t, err, "inputs: x[?,8,80] float32", "outputs: log_probs", "metadata keys: ")
}

func TestOpenTransducerParams(t *testing.T) {
	for _, tc := range []struct {
		family              string
		T, shift, out, j, k int
		state               string // one state, as shapeString writes it
		index               int
		bytes               int64
	}{
		{FamilyZipformer2, 45, 32, 8, 48, 20, "cached_nonlin_attn_2[1,N,8,18]", 13, 0},
		{FamilyZipformer2, 45, 32, 8, 48, 20, "embed_states[N,128,3,19]", 18, 0},
		{FamilyZipformer2, 45, 32, 8, 48, 20, "processed_lens[N]", 19, 0},
		{FamilyZipformer, 39, 32, 8, 56, 14, "cached_key_1[2,16,N,12]", 5, 0},
		{FamilyZipformer, 39, 32, 8, 56, 14, "cached_conv2_0[1,N,16,6]", 12, 0},
		{FamilyLSTM, 9, 4, 1, 64, 2, "state1[2,N,24]", 1, (2*16 + 2*24) * 4},
	} {
		b, err := OpenTransducer(familyDir(tc.family))
		if err != nil {
			t.Fatal(err)
		}
		p := b.Params
		if p.Family != tc.family || p.ChunkFrames != tc.T || p.ChunkShift != tc.shift || p.OutFrames != tc.out ||
			p.JoinerDim != tc.j || len(p.States) != tc.k || p.ContextSize != 2 || p.VocabSize != 18 ||
			p.UnkID != 2 || p.BlankID != 0 || p.FeatureDim != 80 || p.Subsampling != 4 || p.MaxBatch != 0 {
			t.Errorf("%s: params %+v", tc.family, p)
		}
		s := p.States[tc.index]
		if got := s.Name + shapeString(s); got != tc.state {
			t.Errorf("%s: state %d is %s, want %s", tc.family, tc.index, got, tc.state)
		}
		if tc.bytes > 0 && p.StateBytes() != tc.bytes {
			t.Errorf("%s: state bytes %d, want %d", tc.family, p.StateBytes(), tc.bytes)
		}
		if b.Name() != "fixture-"+tc.family || b.Config.Language != "en" {
			t.Errorf("%s: name %q", tc.family, b.Name())
		}
	}
}

// decodeSolo streams an utterance through a fresh streamer in ragged pieces.
func decodeSolo(t *testing.T, m *TransducerModel, u utterance, anchor int64, seed uint64) *TransducerStreamer {
	t.Helper()
	return fedStreamer(t, m.NewStreamer, anchor, u.frames, 80, randomPieces(seed, 1, 50))
}

func TestTransducerFamiliesDecode(t *testing.T) {
	const anchor = 450_000
	for _, family := range transducerFamilies {
		for _, method := range []string{transducer.Greedy, transducer.ModifiedBeam} {
			t.Run(family+"/"+method, func(t *testing.T) {
				m := openFamily(t, family, transducer.Options{Method: method})
				for seed := uint64(1); seed <= 3; seed++ {
					u := say(t, seed, 5+int(seed)*7, 20, sentence...)
					s := decodeSolo(t, m, u, anchor, seed)
					if got := s.Text(); got != sentenceText {
						t.Fatalf("seed %d: text %q, want %q", seed, got, sentenceText)
					}
					ids, frames := u.expected(t, m.Bundle().Tokens, []int{-1, 0})
					if got := s.Search().Tokens(); !reflect.DeepEqual(got, ids) {
						t.Errorf("seed %d: tokens %v, want %v", seed, got, ids)
					}
					if got := s.Search().TokenFrames(); !reflect.DeepEqual(got, frames) {
						t.Errorf("seed %d: token frames %v, want %v", seed, got, frames)
					}
					words := s.Words()
					if len(words) != 14 {
						t.Fatalf("seed %d: %d words %+v", seed, len(words), words)
					}
					// THE starts at its token's frame; CATS ends one output frame after S.
					if w := words[0]; w.Text != "THE" || w.Start != anchor+frames[0]*4*900 || w.End != anchor+(frames[0]+1)*4*900 {
						t.Errorf("seed %d: word 0 %+v", seed, w)
					}
					if w := words[1]; w.Text != "CATS" || w.Start != anchor+frames[1]*4*900 || w.End != anchor+(frames[2]+1)*4*900 {
						t.Errorf("seed %d: word 1 %+v", seed, w)
					}
					for i, w := range words {
						if w.Conf < 0.99 || w.Conf > 1 {
							t.Errorf("seed %d: word %d conf %v", seed, i, w.Conf)
						}
					}
					p := m.Params()
					L := int64(u.len())
					wantCalls := (L+int64(m.tailPad)-int64(p.ChunkFrames))/int64(p.ChunkShift) + 1
					if s.Frames() != L || s.Calls() != wantCalls || s.Search().Frames() != wantCalls*int64(p.OutFrames) {
						t.Errorf("seed %d: frames %d calls %d (want %d) output frames %d", seed, s.Frames(), s.Calls(), wantCalls, s.Search().Frames())
					}
					if s.Search().TrailingBlanks() < int64(20/4) {
						t.Errorf("seed %d: trailing blanks %d", seed, s.Search().TrailingBlanks())
					}
				}
			})
		}
	}
}

// decodeWith streams u one chunk at a time, applying tamper to the encoder
// state before every call but the first.
func decodeWith(t *testing.T, m *TransducerModel, u utterance, tamper func(st *EncoderState)) string {
	t.Helper()
	s, err := m.NewStreamer(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Push(u.frames); err != nil {
		t.Fatal(err)
	}
	s.InputFinished()
	for s.Ready() {
		if s.calls > 0 {
			tamper(s.st)
		}
		if err := m.DecodeStreams([]*TransducerStreamer{s}); err != nil {
			t.Fatal(err)
		}
	}
	return s.Text()
}

// The encoder really uses its states: zeroing them all, or any single one,
// before each call changes the transcript.
func TestTransducerStateFeedbackMatters(t *testing.T) {
	for _, family := range transducerFamilies {
		m := openFamily(t, family, transducer.Options{})
		u := say(t, 11, 9, 20, sentence...)
		checkEncoderStatesMatter(t, family, m, u, sentenceText)
	}
}

// checkEncoderStatesMatter is checkStatesMatter for a transducer's encoder
// states, decoding u through decodeWith.
func checkEncoderStatesMatter(t *testing.T, name string, m *TransducerModel, u utterance, want string) {
	t.Helper()
	checkStatesMatter(t, name, want, m.Params().States,
		func(tamper func(*EncoderState)) string { return decodeWith(t, m, u, tamper) },
		(*EncoderState).Reset,
		func(st *EncoderState, j int) {
			clear(st.f32[j])
			clear(st.i64[j])
		})
}

// processed_lens counts the 50 Hz frames seen, fed back through int64 state.
func TestTransducerInt64State(t *testing.T) {
	m := openFamily(t, FamilyZipformer2, transducer.Options{})
	u := say(t, 5, 3, 20, "THE", "CAT")
	s := decodeSolo(t, m, u, 0, 5)
	j := len(m.Params().States) - 1
	if got, want := s.st.i64[j][0], s.Calls()*16; got != want {
		t.Errorf("processed_lens %d after %d calls, want %d", got, s.Calls(), want)
	}
}

// Streams batched into one encoder call (states stacked along each state's
// batch axis), joining and leaving at different times, decode exactly as
// when each runs alone.
func TestTransducerBatchEqualsSolo(t *testing.T) {
	scripts := [][]string{
		sentence,
		{"NEW", "YORK", "DITTO2", "HA", "HA", "DITTO1", "UNK", "CAF", "BYTE_C3", "BYTE_89"},
		{"SPACE", "BYTE_41", "MAT", "DITTO1", "S"},
	}
	for _, family := range transducerFamilies {
		for _, method := range []string{transducer.Greedy, transducer.ModifiedBeam} {
			t.Run(family+"/"+method, func(t *testing.T) {
				m := openFamily(t, family, transducer.Options{Method: method})
				var frames [][]float32
				var solo []*TransducerStreamer
				for i, sc := range scripts {
					u := say(t, uint64(20+i), 4+9*i, 10+13*i, sc...)
					frames = append(frames, u.frames)
					solo = append(solo, decodeSolo(t, m, u, int64(i)*100_000, 1))
				}
				ss, _ := decodeStaggered(t, m, frames, 80)
				for i := range ss {
					checkSameAsSolo(t, i, ss[i], solo[i])
					if ss[i].Calls() != solo[i].Calls() {
						t.Errorf("stream %d: %d calls batched, %d solo", i, ss[i].Calls(), solo[i].Calls())
					}
				}
				if ss[0].Text() != sentenceText {
					t.Errorf("stream 0 text %q", ss[0].Text())
				}
			})
		}
	}
}

// decodeStaggered decodes frames[i] ([L][F]) through a new streamer of m
// anchored at i·100 000, stream i joining at step 5·i and pushing 7+5·i
// frames per step; each step makes one DecodeStreams call for the streams
// that are ready. It returns the streamers and the number of calls that had
// more than one stream.
func decodeStaggered(t *testing.T, m *TransducerModel, frames [][]float32, F int) (ss []*TransducerStreamer, batches int) {
	t.Helper()
	ss = make([]*TransducerStreamer, len(frames))
	for i := range ss {
		var err error
		if ss[i], err = m.NewStreamer(int64(i) * 100_000); err != nil {
			t.Fatal(err)
		}
	}
	pos := make([]int, len(frames))
	for step := 0; ; step++ {
		for i, s := range ss {
			if step < 5*i || s.finished {
				continue
			}
			L := len(frames[i]) / F
			n := min(L-pos[i], 7+5*i)
			if err := s.Push(frames[i][pos[i]*F : (pos[i]+n)*F]); err != nil {
				t.Fatal(err)
			}
			if pos[i] += n; pos[i] == L {
				s.InputFinished()
			}
		}
		var ready []*TransducerStreamer
		for _, s := range ss {
			if s.Ready() {
				ready = append(ready, s)
			}
		}
		if len(ready) == 0 {
			if slices.IndexFunc(ss, func(s *TransducerStreamer) bool { return !s.finished }) < 0 {
				return ss, batches
			}
			continue
		}
		if len(ready) > 1 {
			batches++
		}
		if err := m.DecodeStreams(ready); err != nil {
			t.Fatal(err)
		}
	}
}

// checkSameAsSolo fails when stream i's batched streamer decoded other
// tokens, token frames or words than its solo run.
func checkSameAsSolo(t *testing.T, i int, batched, solo *TransducerStreamer) {
	t.Helper()
	a, b := batched.Search(), solo.Search()
	if !reflect.DeepEqual(a.Tokens(), b.Tokens()) || !reflect.DeepEqual(a.TokenFrames(), b.TokenFrames()) {
		t.Errorf("stream %d: batched %v at %v, solo %v at %v", i, a.Tokens(), a.TokenFrames(), b.Tokens(), b.TokenFrames())
	}
	checkWordsClose(t, fmt.Sprintf("stream %d (batched against solo)", i), batched.Words(), solo.Words())
}

// RunEncoder of a batch gives every stream exactly its solo outputs and states.
func TestTransducerEncoderBatchExact(t *testing.T) {
	for _, family := range transducerFamilies {
		m := openFamily(t, family, transducer.Options{})
		p := m.Params()
		w := p.ChunkFrames * 80
		u := say(t, 3, 0, 200, sentence...)
		solo := []*EncoderState{m.NewEncoderState(), m.NewEncoderState(), m.NewEncoderState()}
		batch := []*EncoderState{m.NewEncoderState(), m.NewEncoderState(), m.NewEncoderState()}
		checkEncoderBatchEqualsSolo(t, family, m, 12, solo, batch, func(c, i int) []float32 {
			off := ((c*p.ChunkShift + 37*i) % (u.len() - p.ChunkFrames)) * 80
			return u.frames[off : off+w]
		})
	}
}

// At an endpoint (Cut) an icefall stream keeps its encoder states and seeds
// the decoder context with the last two tokens (§1.9): DITTO2 after the cut
// still repeats NEW.
func TestTransducerCutKeepsContext(t *testing.T) {
	for _, family := range transducerFamilies {
		m := openFamily(t, family, transducer.Options{})
		u := say(t, 8, 6, 80, "NEW", "YORK") // 80 > T+S: YORK is decoded before the cut
		v := say(t, 9, 30, 20, "DITTO2")
		s, err := m.NewStreamer(1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Accept(u.frames); err != nil {
			t.Fatal(err)
		}
		words := s.Search().Cut()
		if len(words) != 2 || words[0].Text != "NEW" || words[1].Text != "YORK" {
			t.Fatalf("%s: first segment %+v", family, words)
		}
		acceptAll(t, s, v.frames)
		if got := s.Text(); got != "NEW" {
			t.Errorf("%s: second segment %q, want NEW", family, got)
		}
		// The segment's times continue from the first.
		if w := s.Words(); len(w) == 1 && w[0].Start < 1000+int64(u.len()-m.Params().ChunkFrames)*900 {
			t.Errorf("%s: second segment starts at %d", family, w[0].Start)
		}
		s.Reset(0)
		if got := s.Search().Context(); !reflect.DeepEqual(got, []int{-1, 0}) || s.Frames() != 0 || s.Calls() != 0 {
			t.Errorf("%s: after Reset: context %v frames %d calls %d", family, got, s.Frames(), s.Calls())
		}
	}
}

func TestTransducerStreamerErrors(t *testing.T) {
	m := openFamily(t, FamilyZipformer2, transducer.Options{})
	s, err := m.NewStreamer(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(make([]float32, 81)); !errors.Is(err, ErrBatch) {
		t.Errorf("ragged frames: %v", err)
	}
	if err := m.DecodeStreams([]*TransducerStreamer{s}); !errors.Is(err, ErrBatch) {
		t.Errorf("not ready: %v", err)
	}
	if err := s.Push(make([]float32, 45*80)); err != nil {
		t.Fatal(err)
	}
	if err := m.DecodeStreams([]*TransducerStreamer{s, s}); !errors.Is(err, ErrBatch) {
		t.Errorf("listed twice: %v", err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Errorf("second Finish: %v", err)
	}
	if err := s.Accept(make([]float32, 80)); !errors.Is(err, ErrFinished) {
		t.Errorf("Accept after Finish: %v", err)
	}
	other := openFamily(t, FamilyLSTM, transducer.Options{})
	os, _ := other.NewStreamer(0)
	if err := os.Push(make([]float32, 9*80)); err != nil {
		t.Fatal(err)
	}
	if err := m.DecodeStreams([]*TransducerStreamer{os}); !errors.Is(err, ErrBatch) {
		t.Errorf("foreign stream: %v", err)
	}
	if _, err := m.RunEncoder(make([]float32, 10), []*EncoderState{m.NewEncoderState()}); !errors.Is(err, ErrBatch) {
		t.Errorf("short x: %v", err)
	}
	if _, err := m.RunEncoder(nil, nil); !errors.Is(err, ErrBatch) {
		t.Errorf("no streams: %v", err)
	}
	if err := m.RunDecoder([]int64{1, 2, 3}, make([]float32, 48)); !errors.Is(err, ErrBatch) {
		t.Errorf("ragged contexts: %v", err)
	}
	if err := m.RunJoiner(make([]float32, 48), make([]float32, 47), make([]float32, 18)); !errors.Is(err, ErrBatch) {
		t.Errorf("ragged joiner input: %v", err)
	}
	s.Close()
	if err := s.Accept(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed stream: %v", err)
	}
	s2, _ := m.NewStreamer(0)
	m.Close()
	if err := s2.Accept(make([]float32, 45*80)); !errors.Is(err, ErrClosed) {
		t.Errorf("closed model: %v", err)
	}
	if _, err := m.NewStreamer(0); !errors.Is(err, ErrClosed) {
		t.Errorf("NewStreamer on closed model: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// copyFamily copies a fixture bundle of testdata/models/families into a
// temporary directory and lets edit change it.
func copyFamily(t *testing.T, family string, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), family)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(familyDir(family))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		copyFile(t, filepath.Join(familyDir(family), f.Name()), filepath.Join(dir, f.Name()))
	}
	edit(dir)
	return dir
}

func variant(name string) string { return filepath.Join("testdata", "families", name+".onnx") }

func TestOpenTransducerErrors(t *testing.T) {
	replace := func(file, v string) func(testing.TB, string) {
		return func(t testing.TB, dir string) {
			copyFile(t, variant(v), filepath.Join(dir, file))
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(t testing.TB, dir string)
		want  error
		parts []string
	}{
		{"missing state output", replace("encoder.onnx", "encoder_missing_state_output"), ErrBundleContract,
			[]string{"20 state inputs and 19 state outputs", "gives 20 states", "no output new_processed_lens", "inputs: x[?,45,80] float32", "metadata keys: T, cnn_module_kernels"}},
		{"wrong feature dim", replace("encoder.onnx", "encoder_wrong_feature_dim"), ErrBundleContract,
			[]string{"x[?,45,40] float32", "40-bin features", "80-bin Kaldi fbank"}},
		{"unknown model_type", replace("encoder.onnx", "encoder_unknown_model_type"), ErrUnsupportedModel,
			[]string{`model_type "paraformer"`, "decoder.onnx: inputs: y[?,2] int64", "joiner.onnx: inputs: encoder_out[?,48] float32"}},
		{"no model_type", replace("encoder.onnx", "encoder_no_model_type"), ErrUnsupportedModel,
			[]string{"without model_type metadata", "metadata keys: T, cnn_module_kernels"}},
		{"conformer", replace("encoder.onnx", "encoder_conformer"), ErrUnsupportedModel,
			[]string{"conformer transducer, which this build detects but does not run"}},
		{"inconsistent metadata", replace("encoder.onnx", "encoder_inconsistent_metadata"), ErrBundleContract,
			[]string{"cached_nonlin_attn_0[1,N,16,15], derived from the metadata"}},
		{"whisper features", replace("encoder.onnx", "encoder_whisper_features"), ErrBundleContract,
			[]string{`feature="whisper"`}},
		// A decoder with state outputs makes a NeMo transducer (§0), whose
		// encoder metadata this zipformer2 encoder lacks.
		{"NeMo decoder", replace("decoder.onnx", "decoder_two_outputs"), ErrBundleContract,
			[]string{"encoder.onnx: metadata window_size is missing", "next_states"}},
		{"no context_size", replace("decoder.onnx", "decoder_no_context_size"), ErrBundleContract,
			[]string{"metadata context_size is missing"}},
		{"joiner vocabulary past tokens.txt", replace("joiner.onnx", "joiner_vocab_too_large"), ErrBundleContract,
			[]string{"logit[?,22] float32 scores 22 tokens", "has 18: token ids 18..21 would have no symbol"}},
		{"missing tokens.txt", func(t testing.TB, dir string) { os.Remove(filepath.Join(dir, "tokens.txt")) }, ErrBundleTokensMissing,
			[]string{"tokens.txt"}},
		{"tokens.txt too short", func(t testing.TB, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, "tokens.txt"))
			lines := strings.SplitAfter(string(data), "\n")
			os.WriteFile(filepath.Join(dir, "tokens.txt"), []byte(strings.Join(lines[:15], "")), 0o644)
		}, ErrBundleContract, []string{`vocab_size="18" does not match the 15 tokens`}},
		{"bad tokens.txt", func(t testing.TB, dir string) {
			os.WriteFile(filepath.Join(dir, "tokens.txt"), []byte("<blk> 0\na 2\n"), 0o644)
		}, ErrBundleTokens, []string{"1 is missing"}},
		{"missing joiner", func(t testing.TB, dir string) { os.Remove(filepath.Join(dir, "joiner.onnx")) }, ErrBundleModelMissing,
			[]string{"has no joiner file"}},
		{"ambiguous encoders", func(t testing.TB, dir string) {
			os.Rename(filepath.Join(dir, "encoder.onnx"), filepath.Join(dir, "encoder-epoch-30.onnx"))
			copyFile(t, filepath.Join(dir, "encoder-epoch-30.onnx"), filepath.Join(dir, "encoder-epoch-99.onnx"))
		}, ErrAmbiguousModel, []string{"2 encoder files (encoder-epoch-30.onnx, encoder-epoch-99.onnx)"}},
		{"corrupt encoder", func(t testing.TB, dir string) {
			os.WriteFile(filepath.Join(dir, "encoder.onnx"), []byte("not onnx"), 0o644)
		}, ErrBundleModelInvalid, []string{"encoder.onnx"}},
		{"bad bundle.yaml", func(t testing.TB, dir string) {
			os.WriteFile(filepath.Join(dir, "bundle.yaml"), []byte("colour: blue\n"), 0o644)
		}, ErrBundleConfig, []string{"colour"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFamily(t, FamilyZipformer2, func(dir string) { tc.edit(t, dir) })
			b, err := OpenTransducer(dir)
			if !errors.Is(err, tc.want) || b != nil {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			mustContain(t, err, tc.parts...)
		})
	}
}

func TestDetectFamilyFiles(t *testing.T) {
	// sherpa-onnx package names, fp32 and int8: the fp32 file is taken.
	dir := copyFamily(t, FamilyLSTM, func(dir string) {
		for _, role := range []string{"encoder", "decoder", "joiner"} {
			p := filepath.Join(dir, role+".onnx")
			copyFile(t, p, filepath.Join(dir, role+"-epoch-99-avg-1.int8.onnx"))
			os.Rename(p, filepath.Join(dir, role+"-epoch-99-avg-1.onnx"))
		}
	})
	d, err := DetectFamily(dir)
	if err != nil || d.Family != FamilyLSTM || filepath.Base(d.Encoder.Path) != "encoder-epoch-99-avg-1.onnx" ||
		filepath.Base(d.Joiner.Path) != "joiner-epoch-99-avg-1.onnx" {
		t.Errorf("%+v, %v", d, err)
	}
	if _, err := OpenTransducer(dir); err != nil {
		t.Error(err)
	}
	// Only int8 files.
	for _, role := range []string{"encoder", "decoder", "joiner"} {
		os.Remove(filepath.Join(dir, role+"-epoch-99-avg-1.onnx"))
	}
	if d, err := DetectFamily(dir); err != nil || filepath.Base(d.Decoder.Path) != "decoder-epoch-99-avg-1.int8.onnx" {
		t.Errorf("int8 only: %+v, %v", d, err)
	}
	for _, tc := range []struct {
		dir  string
		want error
	}{
		{filepath.Join(t.TempDir(), "nope"), ErrBundleNotFound},
		{t.TempDir(), ErrBundleModelMissing},
	} {
		if _, err := DetectFamily(tc.dir); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.dir, err, tc.want)
		}
	}
	if _, err := OpenTransducer(toneDir()); !errors.Is(err, ErrUnsupportedModel) {
		t.Errorf("tone model as a transducer: %v", err)
	} else {
		mustContain(t, err, "subtitled_ctc model, not a transducer")
	}
	if _, err := OpenBundle(familyDir(FamilyZipformer2)); err == nil {
		t.Error("OpenBundle opened a transducer bundle")
	}
}

// The fixture decodes the same with more symbols per frame allowed, and the
// beam width does not matter for its confident outputs.
func TestTransducerSearchOptions(t *testing.T) {
	u := say(t, 4, 10, 20, sentence...)
	for _, o := range []transducer.Options{
		{Method: transducer.ModifiedBeam, Beam: 1},
		{Method: transducer.ModifiedBeam, Beam: 8},
	} {
		m := openFamily(t, FamilyZipformer, o)
		if got := decodeSolo(t, m, u, 0, 2).Text(); got != sentenceText {
			t.Errorf("%+v: %q", o, got)
		}
	}
	b, _ := OpenTransducer(familyDir(FamilyLSTM))
	if _, err := NewTransducerModel(b, TransducerOptions{Search: transducer.Options{Method: "viterbi"}}); !errors.Is(err, transducer.ErrOptions) {
		t.Errorf("bad method: %v", err)
	}
	if _, err := NewTransducerModel(b, TransducerOptions{Options: Options{Device: "tpu"}}); !errors.Is(err, ErrDevice) {
		t.Errorf("bad device: %v", err)
	}
	if _, err := NewTransducerModel(&TransducerBundle{}, TransducerOptions{}); err == nil {
		t.Error("empty bundle accepted")
	}
}

func ExampleDetectFamily() {
	d, err := DetectFamily(filepath.Join(repoRoot, "testdata", "models", "families", "zipformer2"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Family, d.Transducer, d.Supported)
	// Output: zipformer2 true true
}
