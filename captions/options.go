package captions

import (
	"errors"
	"fmt"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

// ClockRate is the media clock rate: PTS ticks per second.
const ClockRate = 90000

// Ticks converts a duration to 90 kHz ticks, rounding to the nearest tick.
func Ticks(d time.Duration) int64 {
	ns := d.Nanoseconds()
	if ns >= 0 {
		return (ns*9 + 50000) / 100000
	}
	return -((-ns*9 + 50000) / 100000)
}

// Duration converts 90 kHz ticks to a duration.
func Duration(ticks int64) time.Duration {
	// 1 tick = 100000/9 ns; split to avoid overflow for long media times.
	q, r := ticks/9, ticks%9
	return time.Duration(q*100000 + r*100000/9)
}

// Mode says how cues are built.
type Mode int

const (
	// PopOn builds whole cues of up to MaxLines lines that appear at once and
	// replace each other. It is the default for the TS and for files.
	PopOn Mode = iota
	// RollUp builds cues of exactly one line (a row). Rows close as soon as
	// the next final word would overflow the row (or at the other cue-closing
	// events), so each row goes out as early as its words allow. A roll-up
	// renderer shows the newest row at the bottom and scrolls the earlier rows
	// up, keeping at most MaxLines rows; a row's Start is when it enters at the
	// bottom and its End is when it leaves if no newer row pushes it up first
	// (a renderer may keep it, scrolled up, past its End while newer rows
	// follow). Timing rules (minimum and maximum duration, gap, hang) are the
	// same as for pop-on, so the rows also read correctly as one-line pop-on
	// cues in a file.
	RollUp
)

// String returns "pop-on" or "roll-up".
func (m Mode) String() string {
	switch m {
	case PopOn:
		return "pop-on"
	case RollUp:
		return "roll-up"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Preset names a set of limits for an output.
type Preset int

const (
	// PresetFile: WebVTT, SRT, TTML and the overlay (42 characters, 2 lines).
	PresetFile Preset = iota
	// PresetTeletext: DVB Teletext target (37 characters, 2 double-height rows).
	PresetTeletext
	// PresetTeletextStrict: DVB Teletext hard limit with boxed double-height
	// rows (40 cells − 6 control cells = 34 characters).
	PresetTeletextStrict
	// PresetCEA608: CEA-608 (32 characters, 2 lines pop-on).
	PresetCEA608
)

// Limits per output (CAPTION-RULES.md).
const (
	DefaultMaxChars        = 42
	TeletextMaxChars       = 37
	TeletextStrictMaxChars = 34
	CEA608MaxChars         = 32
	DefaultMaxLines        = 2
)

// Options configures a Builder. Start from DefaultOptions or OptionsFor and
// change what differs; the zero value is not valid.
type Options struct {
	// Track is the track name the builder accepts and stamps on its cues.
	Track string
	// Language selects the line-breaking word lists (ISO 639-1 or 639-2,
	// "en", "de", "fr", "es"; others get punctuation-only rules).
	Language string
	Mode     Mode
	// MaxChars is the most characters (runes) on one line.
	MaxChars int
	// MaxLines is the most lines in a pop-on cue, and the roll-up depth.
	MaxLines int
	// MinDuration and MaxDuration bound the time a cue is on screen.
	MinDuration, MaxDuration time.Duration
	// MinGap is the least time between one cue's End and the next Start.
	MinGap time.Duration
	// Hang is how long a cue stays after its last word ends when nothing
	// follows sooner. When the cue's text reads faster than MaxCPS over its
	// time on screen, the hang grows up to MaxHang. The next cue always cuts
	// it short (less MinGap).
	Hang, MaxHang time.Duration
	// LeadIn lets a cue start up to this long before its first word when the
	// previous cue leaves room. It must not exceed MaxLeadIn.
	LeadIn time.Duration
	// MaxCPS is the reading-speed target in characters per second (0: off).
	// It is never enforced by dropping words; it only lengthens the hang.
	MaxCPS float64
	// MergeSentences keeps several sentences in one cue. By default a cue
	// closes at sentence punctuation (unless the next word follows so soon
	// that the closed cue could not stay its MinDuration).
	MergeSentences bool
	// FirstID is the ID of the first cue. A restarted channel passes the
	// persisted NextID here so that IDs continue.
	FirstID uint64
	// Clock stamps Cue.Emitted. Nil means time.Now.
	Clock func() time.Time
}

// MaxLeadIn is the most a cue may start before its speech.
const MaxLeadIn = 1500 * time.Millisecond

// DefaultOptions returns the file/overlay limits for the verbatim track in
// English, pop-on.
func DefaultOptions() Options { return OptionsFor(PresetFile) }

// OptionsFor returns the default options with the limits of a preset.
func OptionsFor(p Preset) Options {
	o := Options{
		Track:       decoder.TrackVerbatim,
		Language:    "en",
		Mode:        PopOn,
		MaxChars:    DefaultMaxChars,
		MaxLines:    DefaultMaxLines,
		MinDuration: 830 * time.Millisecond,
		MaxDuration: 7 * time.Second,
		MinGap:      80 * time.Millisecond,
		Hang:        time.Second,
		MaxHang:     1500 * time.Millisecond,
		MaxCPS:      17,
		FirstID:     1,
	}
	switch p {
	case PresetTeletext:
		o.MaxChars = TeletextMaxChars
	case PresetTeletextStrict:
		o.MaxChars = TeletextStrictMaxChars
	case PresetCEA608:
		o.MaxChars = CEA608MaxChars
	}
	return o
}

// ErrInvalidOptions is wrapped by every Options.Validate error.
var ErrInvalidOptions = errors.New("captions: invalid options")

// Validate checks the options and names the first bad field.
func (o Options) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Track == "":
		return bad("Track", "empty")
	case o.Mode != PopOn && o.Mode != RollUp:
		return bad("Mode", "unknown mode %d", int(o.Mode))
	case o.MaxChars < 1:
		return bad("MaxChars", "%d is less than 1", o.MaxChars)
	case o.MaxLines < 1:
		return bad("MaxLines", "%d is less than 1", o.MaxLines)
	case Ticks(o.MinDuration) < 1:
		return bad("MinDuration", "%v is not positive", o.MinDuration)
	case o.MaxDuration < o.MinDuration:
		return bad("MaxDuration", "%v is less than MinDuration %v", o.MaxDuration, o.MinDuration)
	case o.MinGap < 0:
		return bad("MinGap", "%v is negative", o.MinGap)
	case o.Hang < 0:
		return bad("Hang", "%v is negative", o.Hang)
	case o.MaxHang < o.Hang:
		return bad("MaxHang", "%v is less than Hang %v", o.MaxHang, o.Hang)
	case o.LeadIn < 0 || o.LeadIn > MaxLeadIn:
		return bad("LeadIn", "%v is outside [0, %v]", o.LeadIn, MaxLeadIn)
	case o.MaxCPS < 0 || o.MaxCPS != o.MaxCPS:
		return bad("MaxCPS", "%v is not a non-negative number", o.MaxCPS)
	}
	return nil
}

// linesPerCue is the number of lines a cue may hold in the mode.
func (o Options) linesPerCue() int {
	if o.Mode == RollUp {
		return 1
	}
	return o.MaxLines
}
