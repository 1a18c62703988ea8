package onnx

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
	"github.com/subtitled/subtitled/decoder/ctc"
	"github.com/subtitled/subtitled/decoder/features"
	"github.com/subtitled/subtitled/tools/familymodels/sounds"
)

// Tests of bundles with a second (subtitle) head: the two-head fixture
// (testdata/models/families/two_heads, tools/familymodels/gen_two_heads.py)
// and the zipformer2 CTC and NeMo CTC fixtures with a head added.

func twoHeadsDir() string { return familyDir("two_heads") }

// thSound is one entry of two_heads/sounds.json.
type thSound struct {
	Name     string  `json:"name"`
	Class    int     `json:"class"`
	Band     int     `json:"band"`
	Token    string  `json:"token"`
	Subtitle *string `json:"subtitle"`
}

func loadTwoHeadSounds(t testing.TB) map[string]thSound {
	t.Helper()
	var f struct {
		Sounds []thSound `json:"sounds"`
	}
	readJSON(t, filepath.Join(twoHeadsDir(), "sounds.json"), &f)
	m := map[string]thSound{}
	for _, s := range f.Sounds {
		m[s.Name] = s
	}
	if len(m) != 10 {
		t.Fatalf("two_heads/sounds.json: %d sounds", len(m))
	}
	return m
}

// sayTwoHeads builds log-mel frames for the two-head fixture: lead frames
// of silence (with noise below the threshold), then per sound 10..22
// frames at level ~0 in its band and 8..14 frames of silence, then tail
// frames of silence.
func sayTwoHeads(t testing.TB, seed uint64, lead, tail int, names ...string) utterance {
	t.Helper()
	table := loadTwoHeadSounds(t)
	band := func(n string) (int, bool) { s, ok := table[n]; return s.Band, ok }
	return sayWith(t, rand.New(rand.NewPCG(seed, 11)), 80, lead, tail, band, names)
}

// twoHeadsStart and twoHeadsEnd are the media times of a word whose sound
// covers feature frames [f0, f1) (sayTwoHeads: level ~0 against silence).
// Output frame i averages the sound bands over feature frames [4i-2, 4i+3)
// and codes a sound whose mean level is above -11, which takes at least 2
// of the 5 frames: the token spans the output frames from the first window
// holding 2 frames of the sound to the last one, and the word ends one
// output frame after that.
func twoHeadsStart(anchor int64, f0 int) int64 {
	i := (f0 - 1 + 3) / 4 // ceil((f0-1)/4), f0 >= 1
	return anchor + int64(4*i)*900
}

func twoHeadsEnd(anchor int64, f1 int) int64 {
	return anchor + int64(4*(f1/4+1))*900
}

// twoHeadsExpected is what the fixture's design says u decodes to. The
// verbatim head emits every sound's token; the subtitle head drops the
// fillers and a sound equal to the previous non-filler one, and maps the
// rest to their subtitle tokens. Words start at "▁" tokens.
func twoHeadsExpected(t testing.TB, u utterance, anchor int64) (verbatim, subtitle []decoder.Word) {
	t.Helper()
	table := loadTwoHeadSounds(t)
	add := func(ws []decoder.Word, sym string, on, end int) []decoder.Word {
		w := decoder.Word{Text: strings.TrimPrefix(sym, "\u2581"), Start: twoHeadsStart(anchor, on), End: twoHeadsEnd(anchor, end)}
		if strings.HasPrefix(sym, "\u2581") || len(ws) == 0 {
			return append(ws, w)
		}
		ws[len(ws)-1].Text += w.Text
		ws[len(ws)-1].End = w.End
		return ws
	}
	last := ""
	for i, n := range u.sounds {
		s := table[n]
		verbatim = add(verbatim, s.Token, u.onsets[i], u.ends[i])
		if s.Subtitle == nil {
			continue
		}
		if n != last {
			subtitle = add(subtitle, *s.Subtitle, u.onsets[i], u.ends[i])
		}
		last = n
	}
	return verbatim, subtitle
}

// sameWords compares words by text and times, and checks confidences.
func sameWords(t testing.TB, what string, got, want []decoder.Word) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: words %+v, want %+v", what, got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Text != w.Text || g.Start != w.Start || g.End != w.End || g.Conf < 0.99 || g.Conf > 1 {
			t.Errorf("%s: word %d %+v, want %+v", what, i, g, w)
		}
	}
}

// twoHeadsPieces are the ragged pieces the two-head tests feed.
func twoHeadsPieces(seed uint64) func() int { return randomPieces(seed, 5, 30) }

// decodeTwoHeads streams u through a fresh streamer of m in ragged pieces.
func decodeTwoHeads(t testing.TB, m *Model, u utterance, anchor int64, seed uint64) *Streamer {
	t.Helper()
	return fedStreamer(t, m.NewStreamer, anchor, u.frames, 80, twoHeadsPieces(seed))
}

// headWords returns the words of every head of s, by track.
func headWords(s *Streamer) map[string][]decoder.Word {
	out := map[string][]decoder.Word{}
	for _, h := range s.HeadSearches() {
		out[h.Track] = h.Search.Words()
	}
	return out
}

var twoHeadsSentence = []string{"UM", "THE", "THE", "CAT", "S", "UH", "SAT", "ON", "THE", "MAT", "YEAH"}

func TestTwoHeadsBundle(t *testing.T) {
	b, err := OpenBundle(twoHeadsDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Heads) != 1 {
		t.Fatalf("%d heads", len(b.Heads))
	}
	h := b.Heads[0]
	c := b.Contract
	switch {
	case h.Track != decoder.TrackSubtitle || h.Output.Name != "subtitle_log_probs" || h.Tokens.Len() != 9 || h.BlankID != 8:
		t.Errorf("head %+v", h)
	case filepath.Base(h.TokensPath) != "subtitle_tokens.txt" || h.Tokens == b.Tokens:
		t.Errorf("head tokens %s", h.TokensPath)
	case c.Family != FamilySubtitledCTC || c.VocabSize != 11 || c.BlankID != 0 || len(c.States) != 2 || c.MaxBatch != 0:
		t.Errorf("contract %+v", c)
	case len(b.Outputs) != 4 || len(b.outs) != 3 || b.outs[2].Name != "next_track":
		t.Errorf("outputs %v, contract outputs %v", b.Outputs, b.outs)
	case !reflect.DeepEqual(b.Tracks(), []string{"verbatim", "subtitle"}):
		t.Errorf("tracks %v", b.Tracks())
	case !reflect.DeepEqual(b.sessionOutputs(), []string{"log_probs", "next_hist", "next_track", "subtitle_log_probs"}):
		t.Errorf("session outputs %v", b.sessionOutputs())
	}
	want := "verbatim (CTC), subtitle (CTC: output subtitle_log_probs, 9 tokens from subtitle_tokens.txt, blank 8, greedy)"
	if got := b.DescribeHeads(); got != want {
		t.Errorf("DescribeHeads %q, want %q", got, want)
	}
	// Without heads, the description is the verbatim head alone.
	tone, err := OpenBundle(toneDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := tone.DescribeHeads(); got != "verbatim (CTC)" || len(tone.Heads) != 0 || !reflect.DeepEqual(tone.Tracks(), []string{"verbatim"}) {
		t.Errorf("tone bundle: heads %q %v", got, tone.Tracks())
	}
}

// Both heads decode their known sequences from one model call per window.
func TestTwoHeadsDecode(t *testing.T) {
	m := openCTC(t, twoHeadsDir())
	const anchor = 123_000
	for seed := uint64(1); seed <= 4; seed++ {
		u := sayTwoHeads(t, seed, 10+int(seed)*3, 17, twoHeadsSentence...)
		s := decodeTwoHeads(t, m, u, anchor, seed)
		hs := s.HeadSearches()
		if len(hs) != 2 || hs[0].Track != decoder.TrackVerbatim || hs[1].Track != decoder.TrackSubtitle || hs[0].Search != s.Search() {
			t.Fatalf("head searches %+v", hs)
		}
		if _, ok := hs[1].Search.(*ctc.Greedy); !ok {
			t.Errorf("subtitle search %T, want greedy", hs[1].Search)
		}
		if hs[0].Search.Frames() != hs[1].Search.Frames() || hs[0].Search.Frames() != 2*s.Calls() {
			t.Errorf("frames %d / %d after %d calls", hs[0].Search.Frames(), hs[1].Search.Frames(), s.Calls())
		}
		if got := hs[0].Search.Text(); got != "um the the cats uh sat on the mat yeah" {
			t.Errorf("seed %d: verbatim %q", seed, got)
		}
		if got := hs[1].Search.Text(); got != "the cats sat on the mat yes" {
			t.Errorf("seed %d: subtitle %q", seed, got)
		}
		verbatim, subtitle := twoHeadsExpected(t, u, anchor)
		sameWords(t, "verbatim", hs[0].Search.Words(), verbatim)
		sameWords(t, "subtitle", hs[1].Search.Words(), subtitle)
	}
}

// Model.Run of a batch gives every stream the log-probs of both heads, and
// the states, of its solo run, bit for bit.
func TestTwoHeadsRunBatchExact(t *testing.T) {
	m := openCTC(t, twoHeadsDir())
	const n, calls = 3, 12
	us := make([]utterance, n)
	for i := range us {
		us[i] = sayTwoHeads(t, uint64(20+i), 5+3*i, 60, twoHeadsSentence...)
	}
	solo, batch := streamStates(m, n), streamStates(m, n)
	const w = 8 * 80
	checkBatchEqualsSolo(t, "two heads", calls, solo, batch,
		func(c, i int) []float32 { return us[i].frames[c*w : (c+1)*w] },
		func(x []float32, sts []*StreamState) error { _, err := m.Run(x, sts); return err },
		func(a, b *StreamState) bool {
			// Run returns each state's logProbs.
			return reflect.DeepEqual(a.logProbs, b.logProbs) && reflect.DeepEqual(a.HeadLogProbs(0), b.HeadLogProbs(0)) &&
				reflect.DeepEqual(a.data, b.data)
		})
	// The subtitle head really is another output: log-probs over 9 classes
	// that differ from the verbatim head's.
	if hl := batch[0].HeadLogProbs(0); len(hl) != 2*9 || len(batch[0].logProbs) != 2*11 {
		t.Errorf("head log-probs %d values, verbatim %d", len(hl), len(batch[0].logProbs))
	}
}

// Streams of different lengths that join and leave at different times,
// batched through a Scheduler, decode both heads as alone.
func TestTwoHeadsSchedulerEqualsSolo(t *testing.T) {
	m := openCTC(t, twoHeadsDir())
	const n = 5
	var us []fut
	var solo []map[string][]decoder.Word
	for i := range n {
		u := sayTwoHeads(t, uint64(60+i), 8+9*i, 5+6*i, twoHeadsSentence[i%3:len(twoHeadsSentence)-i%2]...)
		us = append(us, fut{u, 80})
		s := decodeTwoHeads(t, m, u, int64(i)*70_000, 1)
		solo = append(solo, headWords(s))
	}
	sched := NewScheduler(m, SchedulerOptions{MaxBatch: 4, Wait: 200 * time.Millisecond})
	defer sched.Close()
	// Streams 3 and 4 join when 0 and 1 have left.
	checkScheduledEqualsSolo(t, sched, us, solo, 70_000, func(i int) int { return 9 + 5*i },
		func(i int) int { return i - 3 }, headWords)
	for i := range us {
		if len(solo[i][decoder.TrackSubtitle]) == 0 || len(solo[i][decoder.TrackVerbatim]) <= len(solo[i][decoder.TrackSubtitle]) {
			t.Errorf("stream %d: solo words %+v", i, solo[i])
		}
	}
	if st := sched.Stats(); st.MaxBatchSeen < 2 {
		t.Logf("no batch of more than one stream (%+v)", st)
	}
}

// The subtitle head's repeat detector is a second stage with its own state
// (track, batch axis 1): with it zeroed before every call, repeats across
// calls are no longer dropped; the verbatim head does not use it.
func TestTwoHeadsStateFeedbackMatters(t *testing.T) {
	m := openCTC(t, twoHeadsDir())
	u := sayTwoHeads(t, 3, 12, 20, twoHeadsSentence...)
	for _, zero := range []bool{false, true} {
		st := m.NewStreamState()
		v, err := ctc.NewGreedy(m.Bundle().Tokens, 0, 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		h := m.Heads()[0]
		sub, err := ctc.NewGreedy(h.Tokens, h.BlankID, 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; (c+1)*8 <= u.len(); c++ {
			if zero {
				clear(st.data[1])
			}
			out, err := m.Run(u.frames[c*640:(c+1)*640], []*StreamState{st})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Accept(out[0]); err != nil {
				t.Fatal(err)
			}
			if err := sub.Accept(st.HeadLogProbs(0)); err != nil {
				t.Fatal(err)
			}
		}
		wantSub := map[bool]string{false: "the cats sat on the mat yes", true: "the the cats sat on the mat yes"}[zero]
		if v.Text() != "um the the cats uh sat on the mat yeah" || sub.Text() != wantSub {
			t.Errorf("track state zeroed %v: verbatim %q, subtitle %q (want %q)", zero, v.Text(), sub.Text(), wantSub)
		}
	}
}

// Cut and CutHeads end every head's segment at the same frame; the model
// state is kept (subtitled_ctc), so a repeat across the cut is still
// dropped. Reset restarts every head.
func TestTwoHeadsCutAndReset(t *testing.T) {
	m := openCTC(t, twoHeadsDir())
	a := sayTwoHeads(t, 5, 12, 30, "UM", "THE", "CAT")
	b := sayTwoHeads(t, 6, 0, 20, "CAT", "UH", "MAT")
	s, err := m.NewStreamer(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Accept(a.frames); err != nil {
		t.Fatal(err)
	}
	cut := s.CutHeads()
	text := func(ws []decoder.Word) string { return decoder.Result{Words: ws}.Text() }
	if len(cut) != 2 || cut[0].Track != decoder.TrackVerbatim || text(cut[0].Words) != "um the cat" ||
		cut[1].Track != decoder.TrackSubtitle || text(cut[1].Words) != "the cat" {
		t.Fatalf("CutHeads %+v", cut)
	}
	for _, h := range s.HeadSearches() {
		if len(h.Search.Words()) != 0 {
			t.Errorf("%s: words %+v after the cut", h.Track, h.Search.Words())
		}
	}
	acceptAll(t, s, b.frames)
	if got := headWords(s); text(got["verbatim"]) != "cat uh mat" || text(got["subtitle"]) != "mat" {
		t.Errorf("second segment %+v", got)
	}
	// Cut (the verbatim words only) cuts the subtitle head too.
	if w := s.Cut(); text(w) != "cat uh mat" || len(s.HeadSearches()[1].Search.Words()) != 0 {
		t.Errorf("Cut: %+v, subtitle left %+v", w, s.HeadSearches()[1].Search.Words())
	}
	// After Reset the repeat detector starts afresh: "cat" is kept.
	s.Reset(9000)
	for _, h := range s.HeadSearches() {
		if h.Search.Frames() != 0 {
			t.Errorf("%s: %d frames after Reset", h.Track, h.Search.Frames())
		}
	}
	mustFeed(t, s, b.frames, 80, twoHeadsPieces(2))
	got := headWords(s)
	if text(got["verbatim"]) != "cat uh mat" || text(got["subtitle"]) != "cat mat" || got["subtitle"][0].Start < 9000 {
		t.Errorf("after Reset %+v", got)
	}
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A subtitle head with a lexicon is decoded with prefix beam search, the
// verbatim head stays greedy.
func TestTwoHeadsBeamHead(t *testing.T) {
	dir := copyFamily(t, "two_heads", func(dir string) {
		writeFile(t, filepath.Join(dir, "subtitle_words.txt"), "the\ncats\ncat\nsat\non\na\nmat\nyes\n")
		writeFile(t, filepath.Join(dir, "bundle.yaml"), "heads:\n  subtitle:\n    output: subtitle_log_probs\n"+
			"    tokens: subtitle_tokens.txt\n    lexicon: subtitle_words.txt\n    decoding: {beam: 4}\n")
	})
	m := openCTC(t, dir)
	h := m.Heads()[0]
	if h.Lexicon == nil || h.LexiconPath != filepath.Join(dir, "subtitle_words.txt") {
		t.Fatalf("head %+v", h)
	}
	if d := h.Describe(); !strings.Contains(d, "prefix beam search, beam 4, lexicon 8 words") {
		t.Errorf("Describe %q", d)
	}
	u := sayTwoHeads(t, 8, 12, 20, twoHeadsSentence...)
	s := decodeTwoHeads(t, m, u, 0, 3)
	hs := s.HeadSearches()
	if _, ok := hs[0].Search.(*ctc.Greedy); !ok {
		t.Errorf("verbatim search %T", hs[0].Search)
	}
	if _, ok := hs[1].Search.(*ctc.Beam); !ok {
		t.Errorf("subtitle search %T", hs[1].Search)
	}
	_, subtitle := twoHeadsExpected(t, u, 0)
	sameWords(t, "subtitle (beam)", hs[1].Search.Words(), subtitle)
}

func TestTwoHeadsErrors(t *testing.T) {
	yaml := func(body string) func(*testing.T, string) {
		return func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "bundle.yaml"), body) }
	}
	head := func(lines string) func(*testing.T, string) {
		return yaml("heads:\n  subtitle:\n    output: subtitle_log_probs\n    tokens: subtitle_tokens.txt\n" + lines)
	}
	model := func(v string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			copyFile(t, filepath.Join("testdata", "two_heads", v+".onnx"), filepath.Join(dir, "model.onnx"))
		}
	}
	renameBlank := func(t *testing.T, dir string) {
		writeFile(t, filepath.Join(dir, "subtitle_tokens.txt"), "▁the 0\n▁cat 1\ns 2\n▁sat 3\n▁on 4\n▁a 5\n▁mat 6\n▁yes 7\n<nothing> 8\n")
	}
	for _, tc := range []struct {
		name  string
		edit  func(*testing.T, string)
		wraps error
		parts []string
	}{
		{"unknown head", yaml("heads:\n  summary: {output: subtitle_log_probs}\n"), ErrBundleConfig,
			[]string{"bundle.yaml", "heads.summary", "unknown head", "known: subtitle"}},
		{"verbatim listed", yaml("heads:\n  verbatim: {output: log_probs}\n"), ErrBundleConfig,
			[]string{"heads.verbatim", "output 0"}},
		{"no output", yaml("heads:\n  subtitle: {tokens: subtitle_tokens.txt}\n"), ErrBundleConfig,
			[]string{"heads.subtitle.output is required"}},
		{"empty head", yaml("heads:\n  subtitle:\n"), ErrBundleConfig, []string{"heads.subtitle.output is required"}},
		{"unknown key", head("    outptu: x\n"), ErrBundleConfig, []string{"bundle.yaml", "outptu"}},
		{"output missing", yaml("heads:\n  subtitle: {output: nope, tokens: subtitle_tokens.txt}\n"), ErrBundleContract,
			[]string{"model.onnx", "heads.subtitle.output \"nope\" is not an output", "subtitle_log_probs[?,2,9]"}},
		{"output 0", yaml("heads:\n  subtitle: {output: log_probs, tokens: subtitle_tokens.txt}\n"), ErrBundleContract,
			[]string{"heads.subtitle.output \"log_probs\" is output 0"}},
		{"state output", yaml("heads:\n  subtitle: {output: next_track, tokens: subtitle_tokens.txt}\n"), ErrBundleContract,
			[]string{"state 2 track[2,?,10]", "bundle.yaml heads took next_track out of the outputs before the family's were bound by position"}},
		{"no heads listed", yaml("name: x\n"), ErrBundleContract,
			[]string{"state count mismatch: 2 state inputs but 3 state outputs", "must be listed in bundle.yaml heads"}},
		{"vocabulary mismatch", yaml("heads:\n  subtitle: {output: subtitle_log_probs}\n"), ErrBundleContract,
			[]string{"heads.subtitle.output subtitle_log_probs[?,2,9] float32 has 9 classes but", "tokens.txt has 11 tokens"}},
		{"tokens missing", yaml("heads:\n  subtitle: {output: subtitle_log_probs, tokens: nope.txt}\n"), ErrBundleTokensMissing,
			[]string{"heads.subtitle.tokens", "nope.txt"}},
		{"tokens invalid", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "subtitle_tokens.txt"), "a 0\nb 0\n")
		}, ErrBundleTokens, []string{"heads.subtitle.tokens", "subtitle_tokens.txt"}},
		{"blank out of range", head("    blank_id: 9\n"), ErrBundleContract,
			[]string{"heads.subtitle.blank_id 9 outside the vocabulary 0..8", "subtitle_tokens.txt"}},
		{"no blank symbol", renameBlank, ErrBundleContract,
			[]string{"heads.subtitle.blank_id is required", "subtitle_tokens.txt has no blank symbol"}},
		{"decoding alone", head("    decoding: {beam: 4}\n"), ErrBundleDecoding,
			[]string{"heads.subtitle.decoding settings need a lexicon or an lm"}},
		{"bad beam", head("    lexicon: tokens.txt\n    decoding: {beam: -1}\n"), ErrBundleDecoding,
			[]string{"heads.subtitle.decoding.beam -1"}},
		{"unspellable lexicon", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "w.txt"), "the\nyeah\n")
			head("    lexicon: w.txt\n")(t, dir)
		}, ErrBundleDecoding, []string{"heads.subtitle.", "w.txt", "yeah", "subtitle_tokens.txt"}},
		{"missing lm", head("    lm: nope.arpa\n"), ErrBundleDecoding, []string{"heads.subtitle.lm", "nope.arpa"}},
		{"head frames", model("head_frames"), ErrBundleContract,
			[]string{"heads.subtitle.output subtitle_log_probs[?,3,9] float32 has 3 frames per call, want 2"}},
		{"head dtype", model("head_dtype"), ErrBundleContract,
			[]string{"heads.subtitle.output subtitle_log_probs[?,2,9] float64 must be float32"}},
		{"head batch", model("head_batch"), ErrBundleContract,
			[]string{"heads.subtitle.output subtitle_log_probs[2,2,9] float32: batch dim must be dynamic or 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFamily(t, "two_heads", func(dir string) { tc.edit(t, dir) })
			_, err := OpenBundle(dir)
			if !errors.Is(err, tc.wraps) {
				t.Fatalf("err %v, want %v", err, tc.wraps)
			}
			mustContain(t, err, tc.parts...)
		})
	}
}

// Valid variations: an explicit blank_id for tokens without a blank symbol,
// a head sharing the main tokens when the output scores them, and a head
// output exported with batch 1 (one stream per call).
func TestTwoHeadsConfigVariants(t *testing.T) {
	dir := copyFamily(t, "two_heads", func(dir string) {
		writeFile(t, filepath.Join(dir, "subtitle_tokens.txt"), "▁the 0\n▁cat 1\ns 2\n▁sat 3\n▁on 4\n▁a 5\n▁mat 6\n▁yes 7\n<nothing> 8\n")
		writeFile(t, filepath.Join(dir, "bundle.yaml"), "heads:\n  subtitle: {output: subtitle_log_probs, tokens: subtitle_tokens.txt, blank_id: 8}\n")
	})
	m := openCTC(t, dir)
	u := sayTwoHeads(t, 9, 12, 20, twoHeadsSentence...)
	s := decodeTwoHeads(t, m, u, 0, 4)
	if got := s.HeadSearches()[1].Search.Text(); got != "the cats sat on the mat yes" {
		t.Errorf("explicit blank_id: subtitle %q", got)
	}

	dir = copyFamily(t, "two_heads", func(dir string) {
		copyFile(t, filepath.Join("testdata", "two_heads", "head_batch1.onnx"), filepath.Join(dir, "model.onnx"))
	})
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Contract.MaxBatch != 1 {
		t.Errorf("head output with batch 1: MaxBatch %d, want 1", b.Contract.MaxBatch)
	}

	// A head over the main vocabulary takes the main blank.
	dir = copyFamily(t, "two_heads", func(dir string) {
		writeFile(t, filepath.Join(dir, "subtitle_tokens.txt"), "<blk> 0\n▁the 1\n▁cat 2\ns 3\n▁sat 4\n▁on 5\n▁a 6\n▁mat 7\n▁yes 8\n")
		writeFile(t, filepath.Join(dir, "bundle.yaml"), "heads:\n  subtitle: {output: subtitle_log_probs, tokens: subtitle_tokens.txt}\n")
	})
	if b, err = OpenBundle(dir); err != nil || b.Heads[0].BlankID != 0 {
		t.Errorf("blank by symbol: %v", err)
	}
}

// The zipformer2 CTC and NeMo CTC fixtures with a subtitle head added (the
// main scores gathered into a reversed vocabulary without "ha" and ","):
// the heads are bound by name, the family's outputs by position.
func TestTwoHeadsCTCFamilies(t *testing.T) {
	for _, tc := range []struct {
		family, output, verbatim, subtitle string
	}{
		{FamilyZipformer2CTC, "subtitle_log_probs", z2ctcText, "THE CATS SAT ON A MAT NEW YORK CAF\u00c9 A"},
		{FamilyNeMoCTC, "subtitle_logits", nemoCTCText, "The cats sat on a mat. New York caf\u00e9 a."},
	} {
		t.Run(tc.family, func(t *testing.T) {
			dir := copyFamily(t, tc.family, func(dir string) {
				v := filepath.Join("testdata", "two_heads", tc.family)
				copyFile(t, v+".onnx", filepath.Join(dir, "model.onnx"))
				copyFile(t, v+"_subtitle_tokens.txt", filepath.Join(dir, "subtitle_tokens.txt"))
				writeFile(t, filepath.Join(dir, "bundle.yaml"),
					"heads:\n  subtitle: {output: "+tc.output+", tokens: subtitle_tokens.txt}\n")
			})
			m := openCTC(t, dir)
			h := m.Heads()[0]
			if h.Output.Name != tc.output || h.BlankID != map[string]int{FamilyZipformer2CTC: 16, FamilyNeMoCTC: 0}[tc.family] {
				t.Fatalf("head %+v", h)
			}
			var us []fut
			var solo []map[string][]decoder.Word
			for i := range 3 {
				u := ctcUtterance(t, tc.family, uint64(70+i), 16+11*i, 10+7*i)
				u.frames = u.frames[:(u.len()-(30*i))*u.dim]
				us = append(us, u)
				s := streamCTC(t, m, u, int64(i)*50_000, 2)
				solo = append(solo, headWords(s))
			}
			text := func(ws []decoder.Word) string { return decoder.Result{Words: ws}.Text() }
			if got := solo[0]; text(got["verbatim"]) != tc.verbatim || text(got["subtitle"]) != tc.subtitle {
				t.Fatalf("verbatim %q, subtitle %q; want %q, %q", text(got["verbatim"]), text(got["subtitle"]), tc.verbatim, tc.subtitle)
			}
			if tc.family == FamilyZipformer2CTC { // same times, "HA" dropped
				var want []decoder.Word
				for _, w := range solo[0]["verbatim"] {
					if w.Text != "HA" {
						want = append(want, w)
					}
				}
				sameWords(t, "subtitle", solo[0]["subtitle"], want)
			}
			sched := NewScheduler(m, SchedulerOptions{MaxBatch: 3, Wait: 200 * time.Millisecond})
			defer sched.Close()
			checkScheduledEqualsSolo(t, sched, us, solo, 50_000, func(i int) int { return 13 + 4*i }, nil, headWords)
		})
	}
}

// A transducer bundle cannot list heads.
func TestTwoHeadsTransducerRefused(t *testing.T) {
	dir := copyFamily(t, FamilyZipformer2, func(dir string) {
		writeFile(t, filepath.Join(dir, "bundle.yaml"), "heads:\n  subtitle: {output: x}\n")
	})
	_, err := OpenTransducer(dir)
	if !errors.Is(err, ErrBundleConfig) {
		t.Fatalf("err %v", err)
	}
	mustContain(t, err, "bundle.yaml", "heads", "single-file CTC families only", "zipformer2")
}

// deBruijn2 returns a sequence over 0..k-1 that holds every ordered pair
// (repeats too) as neighbours: a de Bruijn cycle B(k, 2), closed.
func deBruijn2(k int) []int {
	var out []int
	a := make([]int, 3*k)
	var db func(t, p int)
	db = func(t, p int) {
		if t > 2 {
			if 2%p == 0 {
				out = append(out, a[1:p+1]...)
			}
			return
		}
		a[t] = a[t-p]
		db(t+1, p)
		for j := a[t-p] + 1; j < k; j++ {
			a[t] = j
			db(t+1, t)
		}
	}
	db(1, 1)
	return append(out, out[0])
}

// The two-head fixture decodes exactly from real Kaldi fbank of its
// synthesised tones (tools/familymodels/sounds: 160 ms tones, 120 ms apart):
// every sound after every sound, repeats included, at each of the four
// phases of the tones against the output frames. A tone leaks into its
// neighbouring bands and its first and last frames into many, so this
// checks the design (winner-take-all codes of window means), not just the
// clean frames of sayTwoHeads.
func TestTwoHeadsTones(t *testing.T) {
	m := openCTC(t, twoHeadsDir())
	tab, err := sounds.Load(filepath.Join(twoHeadsDir(), "sounds.json"))
	if err != nil {
		t.Fatal(err)
	}
	table := loadTwoHeadSounds(t)
	names := make([]string, len(table))
	for _, s := range table {
		names[s.Class-1] = s.Name
	}
	var seq []string
	for _, c := range deBruijn2(len(names)) {
		seq = append(seq, names[c])
	}
	if len(seq) != len(names)*len(names)+1 {
		t.Fatalf("de Bruijn sequence of %d sounds", len(seq))
	}
	for lead := 300; lead < 340; lead += 10 {
		a, err := tab.Synth(16000, sounds.KaldiBandHz, lead, seq...)
		if err != nil {
			t.Fatal(err)
		}
		a.Samples = append(a.Samples, make([]float32, 8000)...)
		fr, _, err := features.Compute(features.KaldiOptions(80), a.Samples)
		if err != nil {
			t.Fatal(err)
		}
		u := utterance{frames: fr, sounds: seq}
		for i := range seq {
			u.onsets = append(u.onsets, a.Onsets[i]/160)
			u.ends = append(u.ends, a.Ends[i]/160)
		}
		s := decodeTwoHeads(t, m, u, 0, uint64(lead))
		verbatim, subtitle := twoHeadsExpected(t, u, 0)
		got := headWords(s)
		for _, c := range []struct {
			track     string
			got, want []decoder.Word
		}{{decoder.TrackVerbatim, got[decoder.TrackVerbatim], verbatim}, {decoder.TrackSubtitle, got[decoder.TrackSubtitle], subtitle}} {
			text := func(ws []decoder.Word) string { return decoder.Result{Words: ws}.Text() }
			if text(c.got) != text(c.want) {
				t.Fatalf("lead %d ms, %s:\n got %q\nwant %q", lead, c.track, text(c.got), text(c.want))
			}
			// The tone's first and last feature frames are partial: times
			// within one output frame of the clean-frame design.
			for i, w := range c.got {
				if d := w.Start - c.want[i].Start; d < -3600 || d > 3600 || w.End-c.want[i].End < -3600 || w.End-c.want[i].End > 3600 || w.Conf < 0.99 {
					t.Errorf("lead %d ms, %s word %d %+v, want about %+v", lead, c.track, i, w, c.want[i])
				}
			}
		}
	}
}
