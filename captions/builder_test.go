package captions

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

const sec = ClockRate // ticks per second

// fakeClock returns 2024-01-01T00:00:00Z + n ms on the n-th call.
func fakeClock() func() time.Time {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n) * time.Millisecond)
	}
}

// timedWords makes words starting at start, each dur long, gap apart.
func timedWords(text string, start, dur, gap int64) []decoder.Word {
	var out []decoder.Word
	t := start
	for _, f := range strings.Fields(text) {
		out = append(out, decoder.Word{Text: f, Start: t, End: t + dur, Conf: 1})
		t += dur + gap
	}
	return out
}

func newTestBuilder(t *testing.T, mod func(*Options)) *Builder {
	t.Helper()
	o := DefaultOptions()
	o.Clock = fakeClock()
	if mod != nil {
		mod(&o)
	}
	b, err := NewBuilder(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPush(t *testing.T, b *Builder, r decoder.Result) Update {
	t.Helper()
	if r.Track == "" {
		r.Track = b.opts.Track
	}
	u, err := b.Push(r)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestBuilderSingleCue(t *testing.T) {
	b := newTestBuilder(t, nil)
	ws := timedWords("Hello there, how are you today?", 10*sec, sec/4, sec/20)
	u := mustPush(t, b, decoder.Result{Words: ws, Final: true, Segment: 1})
	if len(u.Cues) != 0 || !b.Pending() {
		t.Fatalf("cue released before its end is known: %+v", u)
	}
	u = b.Flush()
	if len(u.Cues) != 1 {
		t.Fatalf("got %d cues", len(u.Cues))
	}
	c := u.Cues[0]
	want := Cue{
		ID: 1, Track: decoder.TrackVerbatim, Lines: []string{"Hello there, how are you today?"},
		Start: ws[0].Start, End: ws[len(ws)-1].End + sec, // Hang 1 s
		Emitted: time.Date(2024, 1, 1, 0, 0, 0, int(time.Millisecond), time.UTC),
	}
	if !cueEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if b.NextID() != 2 {
		t.Errorf("NextID %d", b.NextID())
	}
}

func cueEqual(a, b Cue) bool {
	return a.ID == b.ID && a.Track == b.Track && slices.Equal(a.Lines, b.Lines) &&
		a.Start == b.Start && a.End == b.End && a.Emitted.Equal(b.Emitted)
}

func TestBuilderPartials(t *testing.T) {
	b := newTestBuilder(t, nil)
	ws := timedWords("the weather will be dry and bright in the south", 0, sec/4, 0)
	u := mustPush(t, b, decoder.Result{Words: ws[:3], Segment: 4})
	if !u.PartialChanged || u.Partial.Text() != "the weather will" || u.Partial.Segment != 4 {
		t.Errorf("first partial: %+v", u)
	}
	u = mustPush(t, b, decoder.Result{Words: ws[:3], Segment: 4})
	if u.PartialChanged {
		t.Errorf("unchanged partial reported as changed")
	}
	u = mustPush(t, b, decoder.Result{Words: ws, Segment: 4})
	if !u.PartialChanged || len(u.Partial.Lines) != 2 {
		t.Errorf("long partial: %+v", u.Partial)
	}
	if u.Partial.Start != ws[0].Start || u.Partial.End != ws[len(ws)-1].End {
		t.Errorf("partial times: %+v", u.Partial)
	}
	u = mustPush(t, b, decoder.Result{Words: ws, Segment: 4, Final: true})
	if !u.PartialChanged || len(u.Partial.Lines) != 0 || len(b.Partial().Lines) != 0 {
		t.Errorf("final did not clear the partial: %+v", u)
	}
	// The partial of the next segment releases the held cue, cut before it.
	next := timedWords("more later", ws[len(ws)-1].End+sec/2, sec/4, 0)
	u = mustPush(t, b, decoder.Result{Words: next, Segment: 5})
	if len(u.Cues) != 1 {
		t.Fatalf("held cue not released by partial: %+v", u)
	}
	if got, want := u.Cues[0].End, next[0].Start-Ticks(80*time.Millisecond); got != want {
		t.Errorf("End %d, want %d (next start − gap)", got, want)
	}
	if got := strings.Join(u.Cues[0].Lines, "|"); got != "the weather will be dry|and bright in the south" {
		t.Errorf("lines %q", got)
	}
}

func TestBuilderErrors(t *testing.T) {
	b := newTestBuilder(t, nil)
	if _, err := b.Push(decoder.Result{Track: decoder.TrackSubtitle}); !errors.Is(err, ErrWrongTrack) {
		t.Errorf("wrong track: %v", err)
	}
	mustPush(t, b, decoder.Result{Words: timedWords("a b", 0, 100, 0), Final: true, Segment: 3})
	for _, r := range []decoder.Result{
		{Track: decoder.TrackVerbatim, Segment: 3},
		{Track: decoder.TrackVerbatim, Segment: 2, Final: true},
	} {
		if _, err := b.Push(r); !errors.Is(err, ErrSegmentFinal) {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := DefaultOptions()
	bad.MaxDuration = time.Millisecond
	if _, err := NewBuilder(bad); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "MaxDuration") {
		t.Errorf("validate: %v", err)
	}
}

// collect pushes a final result and flushes, returning all cues.
func collect(t *testing.T, b *Builder, ws []decoder.Word) []Cue {
	t.Helper()
	seg := uint64(1)
	if b.finalSeen {
		seg = b.lastFinal + 1
	}
	u := mustPush(t, b, decoder.Result{Words: ws, Final: true, Segment: seg})
	return append(u.Cues, b.Flush().Cues...)
}

func linesOf(cs []Cue) [][]string {
	var out [][]string
	for _, c := range cs {
		out = append(out, c.Lines)
	}
	return out
}

func TestBuilderSegmentation(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		text string
		dur  int64 // per word
		want [][]string
	}{
		{
			name: "sentence punctuation closes",
			text: "We are live from London. The weather is fine.",
			dur:  sec / 3,
			want: [][]string{{"We are live from London."}, {"The weather is fine."}},
		},
		{
			name: "merge sentences",
			mod:  func(o *Options) { o.MergeSentences = true },
			text: "We are live from London. The weather is fine.",
			dur:  sec / 3,
			want: [][]string{{"We are live from London.", "The weather is fine."}},
		},
		{
			name: "short sentence kept with the next",
			text: "Yes. I agree with that entirely.",
			dur:  sec / 10,
			want: [][]string{{"Yes. I agree with that entirely."}},
		},
		{
			name: "overflow cuts at the comma",
			text: "In the north there will be rain and some strong winds later, but the south stays dry and bright for most of the day",
			dur:  sec / 5,
			want: [][]string{
				{"In the north there will be rain", "and some strong winds later,"},
				{"but the south stays dry", "and bright for most of the day"},
			},
		},
		{
			name: "max duration",
			text: "one two three four five six",
			dur:  2 * sec,
			want: [][]string{{"one two three"}, {"four five six"}},
		},
		{
			name: "long word hard-wrapped alone",
			mod:  func(o *Options) { o.MaxChars = 10 },
			text: "see Llanfairpwllgwyngyll now",
			dur:  sec / 3,
			want: [][]string{{"see"}, {"Llanfairpw", "llgwyngyll"}, {"now"}},
		},
		{
			name: "roll-up rows",
			mod:  func(o *Options) { o.Mode = RollUp; o.MaxChars = 20 },
			text: "the quick brown fox jumps over the lazy dog and runs away",
			dur:  sec / 5,
			want: [][]string{{"the quick brown fox"}, {"jumps over the lazy"}, {"dog and runs away"}},
		},
		{
			name: "teletext strict",
			mod:  func(o *Options) { *o = OptionsFor(PresetTeletextStrict); o.Clock = fakeClock() },
			text: "The Prime Minister has said that the government will not raise taxes this year",
			dur:  sec / 5,
			want: [][]string{{"The Prime Minister has said", "that the government will not raise"}, {"taxes this year"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBuilder(t, tt.mod)
			got := linesOf(collect(t, b, timedWords(tt.text, 0, tt.dur, 0)))
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestBuilderTiming(t *testing.T) {
	gap := Ticks(80 * time.Millisecond)
	minDur := Ticks(830 * time.Millisecond)

	t.Run("next cue cuts the hang", func(t *testing.T) {
		b := newTestBuilder(t, nil)
		a := timedWords("First one.", 0, sec/2, 0)
		c := timedWords("Second one.", 3*sec/2, sec/2, 0)
		cs := collect(t, b, append(a, c...))
		if len(cs) != 2 {
			t.Fatalf("cues %v", linesOf(cs))
		}
		if cs[0].End != c[0].Start-gap || cs[1].Start != c[0].Start {
			t.Errorf("got %d..%d, %d..%d", cs[0].Start, cs[0].End, cs[1].Start, cs[1].End)
		}
	})
	t.Run("min duration pushes the next start", func(t *testing.T) {
		b := newTestBuilder(t, nil)
		u := mustPush(t, b, decoder.Result{Words: timedWords("Yes.", 0, sec/5, 0), Final: true, Segment: 1})
		cs := u.Cues
		u = mustPush(t, b, decoder.Result{Words: timedWords("No, it is not.", sec/2, sec/5, 0), Final: true, Segment: 2})
		cs = append(cs, u.Cues...)
		cs = append(cs, b.Flush().Cues...)
		if len(cs) != 2 {
			t.Fatalf("cues %v", linesOf(cs))
		}
		if cs[0].End != minDur || cs[1].Start != minDur+gap {
			t.Errorf("got %d..%d, %d..", cs[0].Start, cs[0].End, cs[1].Start)
		}
	})
	t.Run("reading speed lengthens the hang up to MaxHang", func(t *testing.T) {
		b := newTestBuilder(t, nil)
		ws := timedWords("Extraordinarily complicated constitutional arrangements", 0, sec/5, 0)
		cs := collect(t, b, ws)
		if want := ws[len(ws)-1].End + Ticks(1500*time.Millisecond); cs[0].End != want {
			t.Errorf("End %d, want %d", cs[0].End, want)
		}
	})
	t.Run("lead-in when there is room", func(t *testing.T) {
		b := newTestBuilder(t, func(o *Options) { o.LeadIn = 500 * time.Millisecond })
		a := timedWords("First one.", 10*sec, sec/2, 0)
		c := timedWords("Second one.", a[1].End+sec/4, sec/2, 0)
		d := timedWords("Third one.", c[1].End+2*sec, sec/2, 0)
		cs := collect(t, b, slices.Concat(a, c, d))
		if len(cs) != 3 {
			t.Fatalf("cues %v", linesOf(cs))
		}
		if cs[0].Start != 10*sec-sec/2 {
			t.Errorf("first start %d", cs[0].Start)
		}
		// The first cue's hang leaves no room: the second starts on its word.
		if cs[1].Start != c[0].Start || cs[0].End != c[0].Start-gap {
			t.Errorf("second start %d (first end %d, word %d)", cs[1].Start, cs[0].End, c[0].Start)
		}
		// After a pause, the third leads its word by LeadIn.
		if cs[1].End != c[1].End+sec || cs[2].Start != d[0].Start-sec/2 {
			t.Errorf("third start %d (second end %d, word %d)", cs[2].Start, cs[1].End, d[0].Start)
		}
	})
	t.Run("advance releases after the natural end", func(t *testing.T) {
		b := newTestBuilder(t, nil)
		ws := timedWords("Good evening.", 0, sec/2, 0)
		mustPush(t, b, decoder.Result{Words: ws, Final: true, Segment: 1})
		end := ws[1].End + sec
		if cs := b.Advance(end + gap - 1); len(cs) != 0 {
			t.Fatalf("released too early")
		}
		cs := b.Advance(end + gap)
		if len(cs) != 1 || cs[0].End != end {
			t.Fatalf("got %+v", cs)
		}
		// Media time already known: the next final's last cue goes out at once.
		ws2 := timedWords("Welcome.", end+10*sec, sec/2, 0)
		b.Advance(ws2[0].End + 3*sec)
		u := mustPush(t, b, decoder.Result{Words: ws2, Final: true, Segment: 2})
		if len(u.Cues) != 1 || u.Cues[0].ID != 2 {
			t.Fatalf("got %+v", u.Cues)
		}
	})
	t.Run("discontinuity starts a new timeline", func(t *testing.T) {
		b := newTestBuilder(t, nil)
		a := timedWords("Before the loop.", 100*sec, sec/2, 0)
		c := timedWords("After the loop.", 2*sec, sec/2, 0)
		cs := collect(t, b, append(a, c...))
		if len(cs) != 2 || cs[1].Start != 2*sec || cs[0].Start != 100*sec {
			t.Fatalf("got %+v", cs)
		}
		b.Discontinuity()
		d := timedWords("Again.", sec, sec/2, 0)
		cs = collect(t, b, d)
		if len(cs) != 1 || cs[0].Start != sec || cs[0].ID != 3 {
			t.Fatalf("after Discontinuity: %+v", cs)
		}
	})
	t.Run("first ID continues", func(t *testing.T) {
		b := newTestBuilder(t, func(o *Options) { o.FirstID = 41 })
		cs := collect(t, b, timedWords("One. Two three four.", 0, sec, 0))
		if len(cs) != 2 || cs[0].ID != 41 || cs[1].ID != 42 || b.NextID() != 43 {
			t.Fatalf("got %+v", cs)
		}
	})
}

func TestLayoutLines(t *testing.T) {
	tests := []struct {
		lang, text string
		max        int
		want       []string
	}{
		{"en", "short line", 42, []string{"short line"}},
		{"en", "The Prime Minister said that the government will not raise taxes", 42,
			[]string{"The Prime Minister said", "that the government will not raise taxes"}},
		{"en", "We have been talking to John Smith about the new railway line", 42,
			[]string{"We have been talking", "to John Smith about the new railway line"}},
		{"en", "we met John Smith there", 18, []string{"we met", "John Smith there"}},
		{"en", "Well, I think that is something we should look at", 42,
			[]string{"Well, I think", "that is something we should look at"}},
		{"en", "So, we will have to wait and see what happens next", 30,
			[]string{"So, we will have to wait", "and see what happens next"}},
		// Never after an article, even when the balance would prefer it.
		{"en", "aaaa bbbb cccc the dddd eeee ffff", 20, []string{"aaaa bbbb cccc", "the dddd eeee ffff"}},
		// Never between a pronoun or an auxiliary and the verb.
		{"en", "xxxx yyyy zzzz will go there", 18, []string{"xxxx yyyy zzzz", "will go there"}},
		{"en", "because xxxx they said yy", 18, []string{"because xxxx", "they said yy"}},
		{"de", "Der Bundeskanzler hat heute in Berlin eine neue Regierung vorgestellt", 42,
			[]string{"Der Bundeskanzler hat heute", "in Berlin eine neue Regierung vorgestellt"}},
		{"fr", "Le président a annoncé une nouvelle loi pour les agriculteurs", 42,
			[]string{"Le président a annoncé", "une nouvelle loi pour les agriculteurs"}},
		{"es", "El presidente ha anunciado una nueva ley para los agricultores", 37,
			[]string{"El presidente ha anunciado", "una nueva ley para los agricultores"}},
	}
	for _, tt := range tests {
		got, ok := layoutLines(strings.Fields(tt.text), tt.max, 2, langFor(tt.lang))
		if !ok || !slices.Equal(got, tt.want) {
			t.Errorf("%q:\n got  %q\n want %q", tt.text, got, tt.want)
		}
	}
	if _, ok := layoutLines(strings.Fields("aaaa bbbb cccc dddd"), 8, 2, langEN); ok {
		t.Errorf("three lines reported as fitting two")
	}
	// A third line is used only when two do not hold the words.
	got, ok := layoutLines(strings.Fields("aaaa bbbb cccc dddd eeee"), 9, 3, langEN)
	if !ok || len(got) != 3 {
		t.Errorf("3 lines: %q", got)
	}
}

func TestHardWrap(t *testing.T) {
	if got := hardWrap("abcdéfghij", 4); !slices.Equal(got, []string{"abcd", "éfgh", "ij"}) {
		t.Errorf("got %q", got)
	}
}

// Early commits: a cue goes out as soon as the words after it are final,
// without waiting for the endpoint, and the words of the open cue show in
// the partial until it closes.
func TestBuilderContinues(t *testing.T) {
	b := newTestBuilder(t, nil)
	text := "the weather will be dry and bright in the south with some sunshine later " +
		"but clouds will spread from the west bringing rain to most places by evening"
	ws := timedWords(text, 0, sec/4, sec/10)
	// The first 20 words: more than one cue's worth of text.
	u := mustPush(t, b, decoder.Result{Words: ws[:20], Segment: 0, Final: true, Continues: true})
	if len(u.Cues) != 1 {
		t.Fatalf("cues %v after a commit that overflows one cue, want one", linesOf(u.Cues))
	}
	first := u.Cues[0]
	if b.Pending() {
		t.Fatal("the closed cue waits although the next cue's first word is known")
	}
	if !u.PartialChanged || len(u.Partial.Lines) == 0 {
		t.Fatalf("partial %+v: want the open words", u.Partial)
	}
	open := strings.Fields(u.Partial.Text())
	if got := len(strings.Fields(strings.Join(first.Lines, " "))) + len(open); got != 20 {
		t.Fatalf("cue %q + open %q: %d words, want 20", first.Lines, open, got)
	}
	if n := len(strings.Fields(strings.Join(first.Lines, " "))); first.SpeechEnd != ws[n-1].End || first.End == first.SpeechEnd {
		t.Fatalf("cue SpeechEnd %d End %d, want SpeechEnd at its last word's end %d", first.SpeechEnd, first.End, ws[n-1].End)
	}
	// A partial of the next segment lays out the open words and its own.
	u = mustPush(t, b, decoder.Result{Words: ws[20:22], Segment: 1})
	if got := strings.Fields(u.Partial.Text()); len(got) != len(open)+2 || got[0] != open[0] {
		t.Fatalf("partial %q, want the open words %q then two more", got, open)
	}
	// A final of an older segment is refused, as before.
	if _, err := b.Push(decoder.Result{Track: b.opts.Track, Words: ws[20:21], Segment: 0, Final: true}); !errors.Is(err, ErrSegmentFinal) {
		t.Fatalf("err %v, want ErrSegmentFinal", err)
	}
	// The endpoint closes the rest.
	u = mustPush(t, b, decoder.Result{Words: ws[20:], Segment: 1, Final: true})
	var all []string
	for _, c := range append([]Cue{first}, append(u.Cues, b.Flush().Cues...)...) {
		all = append(all, c.Lines...)
	}
	if got := strings.Join(strings.Fields(strings.Join(all, " ")), " "); got != text {
		t.Fatalf("cues hold %q, want %q", got, text)
	}
}
