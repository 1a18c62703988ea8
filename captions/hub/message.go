package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/subtitled/subtitled/captions"
)

// ProtocolVersion is the version of the JSON message protocol announced in
// every hello message. See docs/PROTOCOL.md.
const ProtocolVersion = 1

// Message types, the value of every message's "type" field.
const (
	TypeHello   = "hello"
	TypePartial = "partial"
	TypeCue     = "cue"
	TypeGap     = "gap"
	TypeEOS     = "eos"
)

// Gap reasons used by the hub itself. PublishGap passes the caller's reason.
const (
	// GapResume: the ids a client asked for with since= are no longer retained.
	GapResume = "resume"
)

// ptsRate is the media clock: PTS ticks per second.
const ptsRate = 90000

// wallLayout is RFC 3339 in UTC with milliseconds.
const wallLayout = "2006-01-02T15:04:05.000Z07:00"

// seconds is a 90 kHz PTS written to JSON as seconds, rounded to the
// microsecond (the exact value travels beside it as an integer).
type seconds int64

// MarshalJSON writes the PTS as decimal seconds.
func (s seconds) MarshalJSON() ([]byte, error) {
	v := math.Round(float64(s)/ptsRate*1e6) / 1e6
	return strconv.AppendFloat(nil, v, 'f', -1, 64), nil
}

func wallTime(t time.Time) string { return t.UTC().Format(wallLayout) }

// helloMsg opens every connection.
type helloMsg struct {
	Type       string `json:"type"`
	Protocol   int    `json:"protocol"`
	Channel    string `json:"channel"`
	Track      string `json:"track"`
	ServerTime string `json:"server_time"`
	// LastID is the id of the newest cue published on this channel and
	// track (0: none yet).
	LastID uint64 `json:"last_id"`
	// RetainedFrom and RetainedTo are the range of ids kept for resume
	// (both 0 when nothing is retained).
	RetainedFrom uint64 `json:"retained_from"`
	RetainedTo   uint64 `json:"retained_to"`
	// Since echoes the since parameter; absent when the client gave none.
	Since *uint64 `json:"since,omitempty"`
	// Replay is how many retained cues follow this hello before live ones.
	Replay int `json:"replay"`
}

type cueMsg struct {
	Type     string   `json:"type"`
	Channel  string   `json:"channel"`
	Track    string   `json:"track"`
	ID       uint64   `json:"id"`
	Lines    []string `json:"lines"`
	Start    seconds  `json:"start"`
	End      seconds  `json:"end"`
	StartPTS int64    `json:"start_pts"`
	EndPTS   int64    `json:"end_pts"`
	Emitted  string   `json:"emitted"`
}

type partialMsg struct {
	Type     string   `json:"type"`
	Channel  string   `json:"channel"`
	Track    string   `json:"track"`
	Segment  uint64   `json:"segment"`
	Lines    []string `json:"lines"`
	Start    seconds  `json:"start"`
	End      seconds  `json:"end"`
	StartPTS int64    `json:"start_pts"`
	EndPTS   int64    `json:"end_pts"`
	Emitted  string   `json:"emitted"`
}

// gapMsg announces something the client will not get: media time with no
// captions (Start/End set) or cue ids that are no longer retained
// (LostFrom/LostTo set).
type gapMsg struct {
	Type     string   `json:"type"`
	Channel  string   `json:"channel"`
	Track    string   `json:"track"`
	Reason   string   `json:"reason"`
	Start    *seconds `json:"start,omitempty"`
	End      *seconds `json:"end,omitempty"`
	StartPTS *int64   `json:"start_pts,omitempty"`
	EndPTS   *int64   `json:"end_pts,omitempty"`
	LostFrom *uint64  `json:"lost_from,omitempty"`
	LostTo   *uint64  `json:"lost_to,omitempty"`
	Emitted  string   `json:"emitted"`
}

type eosMsg struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Track   string `json:"track"`
	LastID  uint64 `json:"last_id"`
	Reason  string `json:"reason"`
	Emitted string `json:"emitted"`
}

// encode marshals one message without HTML escaping and without the
// trailing newline.
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every message type above is plain data; this cannot happen.
		panic(fmt.Sprintf("hub: encoding %T: %v", v, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

func nonNil(lines []string) []string {
	if lines == nil {
		return []string{}
	}
	return lines
}

func encodeCue(channel string, c captions.Cue, emitted time.Time) []byte {
	if !c.Emitted.IsZero() {
		emitted = c.Emitted
	}
	return encode(cueMsg{
		Type: TypeCue, Channel: channel, Track: c.Track, ID: c.ID,
		Lines: nonNil(c.Lines), Start: seconds(c.Start), End: seconds(c.End),
		StartPTS: c.Start, EndPTS: c.End, Emitted: wallTime(emitted),
	})
}

func encodePartial(channel string, p captions.Partial, now time.Time) []byte {
	return encode(partialMsg{
		Type: TypePartial, Channel: channel, Track: p.Track, Segment: p.Segment,
		Lines: nonNil(p.Lines), Start: seconds(p.Start), End: seconds(p.End),
		StartPTS: p.Start, EndPTS: p.End, Emitted: wallTime(now),
	})
}

func encodeMediaGap(channel, track string, start, end int64, reason string, now time.Time) []byte {
	s, e := seconds(start), seconds(end)
	return encode(gapMsg{
		Type: TypeGap, Channel: channel, Track: track, Reason: reason,
		Start: &s, End: &e, StartPTS: &start, EndPTS: &end, Emitted: wallTime(now),
	})
}

func encodeLostGap(channel, track string, from, to uint64, now time.Time) []byte {
	return encode(gapMsg{
		Type: TypeGap, Channel: channel, Track: track, Reason: GapResume,
		LostFrom: &from, LostTo: &to, Emitted: wallTime(now),
	})
}

func encodeEOS(channel, track string, lastID uint64, reason string, now time.Time) []byte {
	return encode(eosMsg{
		Type: TypeEOS, Channel: channel, Track: track, LastID: lastID,
		Reason: reason, Emitted: wallTime(now),
	})
}
