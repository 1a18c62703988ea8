// Package decoder turns audio into words: features, the ONNX model runner,
// search and endpointing live in its sub-packages.
package decoder

// Track names.
const (
	TrackVerbatim = "verbatim"
	TrackSubtitle = "subtitle"
)

// Word is one recognised word in media time.
type Word struct {
	Text  string
	Start int64 // 90 kHz PTS of the word's first frame
	End   int64 // 90 kHz PTS just after the word's last frame
	Conf  float32
}

// Result is the recogniser's output for one segment of one track. A partial
// result replaces the previous partial of the same segment; a final result is
// never revised.
//
// A final result normally ends at an endpoint (a pause, a forced cut, a
// discontinuity or the end of the stream). A final result with Continues set
// ends at no endpoint: the recogniser committed words that can no longer
// change while the speaker goes on, so that captions need not wait for the
// pause; the next segment continues the same utterance. Caption builders
// keep the cue open across it.
type Result struct {
	Track     string
	Words     []Word
	Final     bool
	Continues bool
	Segment   uint64
}

// Text joins the words with single spaces.
func (r Result) Text() string {
	n := 0
	for _, w := range r.Words {
		n += len(w.Text) + 1
	}
	b := make([]byte, 0, n)
	for i, w := range r.Words {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, w.Text...)
	}
	return string(b)
}
