package daemon

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/subtitled/subtitled/ingest/mpegts"
)

func TestArrivalRing(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var r arrivalRing
	// First pass over a looping file: media 0..90 s arrives at 0..90 s.
	for s := 0; s <= 90; s++ {
		r.add(int64(s)*90000, at(s))
	}
	// The loop restarts media time at 0 (a discontinuity the ring was not
	// told about) and runs to 20 s, arriving at 91..111 s.
	for s := 0; s <= 20; s++ {
		r.add(int64(s)*90000, at(91+s))
	}
	tests := []struct {
		pts  int64
		want time.Time
		ok   bool
	}{
		{15 * 90000, at(106), true}, // this pass, not the first one (at 15 s)
		{0, at(91), true},
		{20 * 90000, at(111), true},
		{25 * 90000, time.Time{}, false}, // not arrived yet in this pass
	}
	for _, tc := range tests {
		got, ok := r.at(tc.pts)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("at(%d s) = %v %v, want %v %v", tc.pts/90000, got.Sub(t0), ok, tc.want.Sub(t0), tc.ok)
		}
	}
	r.reset()
	if _, ok := r.at(0); ok {
		t.Error("reset ring still answers")
	}
}

// The demuxer's reports keep a channel running; other input errors end the
// run (the supervisor restarts it).
func TestIsInputReport(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("program 1: %w", mpegts.ErrNoAudio), true},
		{&mpegts.StreamError{PID: 0x101, Err: mpegts.ErrUnsupportedCodec}, true},
		{fmt.Errorf("%w: 7", mpegts.ErrProgramNotFound), true},
		{mpegts.ErrNotTS, false},
		{io.EOF, false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := isInputReport(tc.err); got != tc.want {
			t.Errorf("isInputReport(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
