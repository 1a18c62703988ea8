package captions

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

// Errors returned by Builder.Push.
var (
	// ErrWrongTrack: the result belongs to another track.
	ErrWrongTrack = errors.New("captions: result for another track")
	// ErrSegmentFinal: the result is for a segment that was already
	// finalised (or an older one); finals are never revised.
	ErrSegmentFinal = errors.New("captions: segment already final")
)

// discontinuityTicks: a final word that starts this much before the end of
// the previous final word means media time jumped back (a discontinuity the
// caller did not report); the builder then starts a new timeline.
const discontinuityTicks = ClockRate

// Partial is the revisable text of the cue being built from a partial
// result. It is what a WebSocket "partial" message shows; the next partial
// replaces it and a final clears it.
type Partial struct {
	Track   string
	Segment uint64
	// Lines is the cue under construction laid out as its final would be
	// (pop-on: up to MaxLines lines; roll-up: the current row). Empty when
	// there is no partial text.
	Lines []string
	// Start and End are the media times of the first and last word shown.
	Start, End int64
}

// Text joins the lines with "\n".
func (p Partial) Text() string { return strings.Join(p.Lines, "\n") }

func (p Partial) equal(q Partial) bool {
	return p.Track == q.Track && p.Segment == q.Segment && p.Start == q.Start &&
		p.End == q.End && slices.Equal(p.Lines, q.Lines)
}

// Update is what one call to the Builder produced.
type Update struct {
	// Cues are the cues finalised by this call, in ID order. They are never
	// changed or withdrawn afterwards.
	Cues []Cue
	// Partial is the current partial; it is meaningful when PartialChanged.
	Partial        Partial
	PartialChanged bool
}

// pendingCue is a closed cue whose End is not fixed yet: it waits for the
// start of the next cue (or for media time to pass its natural end) so that
// it can hang as long as the rules allow without overlapping the next cue.
type pendingCue struct {
	lines     []string
	start     int64
	target    int64 // End when nothing follows sooner
	speechEnd int64 // the last word's end
}

// Builder turns one track's recogniser results into caption cues: a
// revisable partial for the words not yet final, and final cues with stable,
// consecutive IDs.
//
// Cue boundaries. Every final result (an endpoint) closes the cue. Within a
// final result a cue also closes:
//   - at sentence punctuation (. ! ? …, not after known abbreviations or
//     initials), unless MergeSentences is set or the next word starts within
//     MinDuration+MinGap of the cue's first word (closing there would only
//     delay the next cue);
//   - when the next word would overflow the lines or take the cue past
//     MaxDuration. The cut then goes to the best break among the cue's last
//     words (after punctuation, before a conjunction, never after an
//     article…), weighed against the room it leaves unused; the words after
//     the cut open the next cue;
//   - around a word longer than a line, which gets a cue of its own,
//     hard-wrapped over as many lines as it needs.
//
// Partial results never produce cues; they only update the Partial, laid
// out as its final would be.
//
// Line breaking chooses the fewest lines, and among layouts with that many
// lines the one with the lowest cost: bonuses for breaking after
// punctuation, before a conjunction or a preposition; penalties for
// breaking after an article, determiner or possessive, a subject pronoun,
// an auxiliary or negation, inside a pair of capitalised words (a name),
// and for top-heavy shapes (a bottom-heavy pyramid is preferred).
//
// Timing, in 90 kHz media time:
//   - Start is the first word's Start, less LeadIn when there is room, and
//     never earlier than the previous cue's End + MinGap (if the previous
//     cue had to stay longer, the next one starts late rather than overlap).
//   - End is the last word's End + Hang, lengthened up to MaxHang when the
//     text reads faster than MaxCPS, cut to the next cue's first word −
//     MinGap, then held within [Start+MinDuration, Start+MaxDuration].
//
// Because End depends on the next cue, the last closed cue is held back
// until one of these tells the builder where the next cue starts: a later
// final result, a partial of a later segment (its first word), Advance with
// a media time past the cue's natural end, or Flush. Callers that feed only
// results should call Advance as audio is consumed so that the last cue of a
// pause goes out within Hang + MinGap of its last word.
//
// A Builder is not safe for concurrent use.
type Builder struct {
	opts  Options
	seg   segmenter
	clock func() time.Time

	minDur, maxDur, gap, hang, maxHang, lead int64
	nextID                                   uint64

	pending *pendingCue
	// open holds final words of a result that Continues: the cue they
	// start is not closed until later words (or an endpoint) close it.
	open []decoder.Word
	// floor is the earliest Start of the next cue (previous End + MinGap).
	floor    int64
	hasFloor bool
	// Sanitising final word times: starts never go back.
	prevStart, prevEnd int64
	haveWords          bool
	// mediaNow is the latest Advance: no later word starts before it.
	mediaNow int64
	haveNow  bool

	finalSeen bool
	lastFinal uint64
	partial   Partial
}

// NewBuilder returns a Builder for the options, which must be valid.
func NewBuilder(o Options) (*Builder, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	return &Builder{
		opts:    o,
		seg:     newSegmenter(o),
		clock:   clock,
		minDur:  Ticks(o.MinDuration),
		maxDur:  Ticks(o.MaxDuration),
		gap:     Ticks(o.MinGap),
		hang:    Ticks(o.Hang),
		maxHang: Ticks(o.MaxHang),
		lead:    Ticks(o.LeadIn),
		nextID:  o.FirstID,
		partial: Partial{Track: o.Track},
	}, nil
}

// Options returns the builder's options.
func (b *Builder) Options() Options { return b.opts }

// NextID is the ID the next final cue will get. Persist it to continue the
// sequence after a restart (Options.FirstID).
func (b *Builder) NextID() uint64 { return b.nextID }

// Partial returns the current partial.
func (b *Builder) Partial() Partial { return b.partial }

// Pending reports whether a closed cue is waiting for its End to be fixed.
func (b *Builder) Pending() bool { return b.pending != nil }

// Push feeds one result. Partials update the partial text (and may release
// the held cue); a final result closes its words into cues. Results for
// another track or for a segment already finalised are rejected.
func (b *Builder) Push(r decoder.Result) (Update, error) {
	var u Update
	if r.Track != b.opts.Track {
		return u, fmt.Errorf("%w: got %q, builder is for %q", ErrWrongTrack, r.Track, b.opts.Track)
	}
	if b.finalSeen && r.Segment <= b.lastFinal {
		return u, fmt.Errorf("%w: segment %d (last final %d)", ErrSegmentFinal, r.Segment, b.lastFinal)
	}
	words := cleanWords(r.Words)
	if !r.Final {
		all := b.withOpen(words)
		p := b.makePartial(r.Segment, all)
		if b.pending != nil && len(all) > 0 {
			u.Cues = append(u.Cues, b.finalise(all[0].Start, true))
		}
		if !p.equal(b.partial) {
			u.Partial, u.PartialChanged = p, true
		}
		b.partial = p
		return u, nil
	}

	b.finalSeen, b.lastFinal = true, r.Segment
	start := 0
	for i := range words {
		w := &words[i]
		if b.haveWords && w.Start < b.prevEnd-discontinuityTicks {
			// Media time went back: close what we have and start over.
			u.Cues = b.closeRun(u.Cues, words[start:i], false)
			start = i
			u.Cues = b.newTimeline(u.Cues)
		} else if b.haveWords && w.Start < b.prevStart {
			w.Start = b.prevStart
		}
		if w.End < w.Start {
			w.End = w.Start
		}
		b.prevStart, b.prevEnd, b.haveWords = w.Start, w.End, true
	}
	u.Cues = b.closeRun(u.Cues, words[start:], r.Continues)
	if b.pending != nil && b.haveNow {
		u.Cues = b.releaseIfPast(u.Cues)
	}
	if (len(b.partial.Lines) > 0 || len(b.open) > 0) && b.partial.Segment <= r.Segment {
		p := b.makePartial(r.Segment, b.open)
		if !p.equal(b.partial) {
			u.Partial, u.PartialChanged = p, true
		}
		b.partial = p
	}
	return u, nil
}

// withOpen returns the open words followed by words.
func (b *Builder) withOpen(words []decoder.Word) []decoder.Word {
	if len(b.open) == 0 {
		return words
	}
	return append(slices.Clip(b.open), words...)
}

// Advance tells the builder that media time has reached pts: the caller
// promises that no later final word starts before pts. A recogniser can
// keep that promise by passing the media time of the audio it has decoded,
// less the time a word may take to appear in a partial (one chunk), or the
// time of an endpoint it has just detected. The held cue is released once
// pts is past its natural End + MinGap. (If a word does start earlier it is
// not lost: its cue starts late instead.)
func (b *Builder) Advance(pts int64) []Cue {
	if !b.haveNow || pts > b.mediaNow {
		b.mediaNow, b.haveNow = pts, true
	}
	if b.pending == nil {
		return nil
	}
	return b.releaseIfPast(nil)
}

// Flush closes the open words into cues, releases the held cue with its
// natural End and clears the partial, for end of stream. Later cues still
// start after the flushed one.
func (b *Builder) Flush() Update {
	var u Update
	u.Cues = b.closeRun(nil, nil, false)
	if b.pending != nil {
		u.Cues = append(u.Cues, b.finalise(0, false))
	}
	if len(b.partial.Lines) > 0 {
		b.partial = Partial{Track: b.opts.Track, Segment: b.partial.Segment}
		u.Partial, u.PartialChanged = b.partial, true
	}
	return u
}

// Discontinuity is Flush for a break in media time (a PTS jump, a source
// change): the next cue is timed from its own words, without regard to
// cues before the break.
func (b *Builder) Discontinuity() Update {
	u := b.Flush()
	u.Cues = b.newTimeline(u.Cues)
	return u
}

// newTimeline closes the open words, releases the held cue and forgets the
// timing state.
func (b *Builder) newTimeline(out []Cue) []Cue {
	out = b.closeRun(out, nil, false)
	if b.pending != nil {
		out = append(out, b.finalise(0, false))
	}
	b.hasFloor, b.haveWords, b.haveNow = false, false, false
	return out
}

func (b *Builder) releaseIfPast(out []Cue) []Cue {
	if b.mediaNow-b.gap >= b.naturalEnd(b.pending) {
		out = append(out, b.finalise(0, false))
	}
	return out
}

// closeRun segments the open words and words, of one timeline, into cues.
// With keepOpen (a result that Continues) the last draft stays open for
// the words that follow; the drafts before it are final, because the
// segmenter closes a draft only on seeing the word after it. The held cue
// is then released at once: the open words say where the next cue starts.
func (b *Builder) closeRun(out []Cue, words []decoder.Word, keepOpen bool) []Cue {
	all := b.withOpen(words)
	b.open = nil
	if len(all) == 0 {
		return out
	}
	ds := b.seg.segment(all)
	if keepOpen {
		b.open = slices.Clone(ds[len(ds)-1])
		ds = ds[:len(ds)-1]
	}
	for _, d := range ds {
		out = b.close(out, d)
	}
	if b.pending != nil && len(b.open) > 0 {
		out = append(out, b.finalise(b.open[0].Start, true))
	}
	return out
}

// close makes a draft the held cue, releasing the previous one.
func (b *Builder) close(out []Cue, d []decoder.Word) []Cue {
	first, lastEnd := d[0].Start, d[len(d)-1].End
	if b.pending != nil {
		out = append(out, b.finalise(first, true))
	}
	start := first - b.lead
	if b.hasFloor && start < b.floor {
		start = b.floor
	}
	lines := b.layout(d)
	target := lastEnd + b.hang
	if b.opts.MaxCPS > 0 {
		chars := 0
		for _, l := range lines {
			chars += runeLen(l)
		}
		need := start + int64(float64(chars)*ClockRate/b.opts.MaxCPS+0.5)
		if need > target {
			target = min(need, lastEnd+b.maxHang)
		}
	}
	b.pending = &pendingCue{lines: lines, start: start, target: target, speechEnd: lastEnd}
	return out
}

// naturalEnd is the held cue's End if nothing follows it sooner.
func (b *Builder) naturalEnd(p *pendingCue) int64 {
	end := p.target
	end = max(end, p.start+b.minDur)
	return min(end, p.start+b.maxDur)
}

// finalise fixes the held cue's End, given the next cue's first word when
// known, and emits it with the next ID.
func (b *Builder) finalise(next int64, hasNext bool) Cue {
	p := b.pending
	end := p.target
	if hasNext && end > next-b.gap {
		end = next - b.gap
	}
	end = max(end, p.start+b.minDur)
	end = min(end, p.start+b.maxDur)
	c := Cue{
		ID:        b.nextID,
		Track:     b.opts.Track,
		Lines:     p.lines,
		Start:     p.start,
		End:       end,
		SpeechEnd: p.speechEnd,
		Emitted:   b.clock(),
	}
	b.nextID++
	b.floor, b.hasFloor = end+b.gap, true
	b.pending = nil
	return c
}

// layout breaks a draft into lines.
func (b *Builder) layout(d []decoder.Word) []string {
	if len(d) == 1 && b.seg.isLong(d[0]) {
		return hardWrap(d[0].Text, b.opts.MaxChars)
	}
	texts := make([]string, len(d))
	for i, w := range d {
		texts[i] = w.Text
	}
	lines, ok := layoutLines(texts, b.opts.MaxChars, b.seg.lines, b.seg.lw)
	if !ok {
		// Unreachable for drafts from segment; never lose words.
		lines, _ = layoutLines(texts, b.opts.MaxChars, len(texts), b.seg.lw)
	}
	return lines
}

func (b *Builder) makePartial(seg uint64, words []decoder.Word) Partial {
	p := Partial{Track: b.opts.Track, Segment: seg}
	if len(words) == 0 {
		return p
	}
	ds := b.seg.segment(words)
	last := ds[len(ds)-1]
	p.Lines = b.layout(last)
	p.Start, p.End = last[0].Start, last[len(last)-1].End
	return p
}

// cleanWords copies the words with cleaned text, dropping empty ones.
func cleanWords(in []decoder.Word) []decoder.Word {
	out := make([]decoder.Word, 0, len(in))
	for _, w := range in {
		w.Text = cleanText(w.Text)
		if w.Text == "" {
			continue
		}
		out = append(out, w)
	}
	return out
}
