package source

import (
	"context"
	"time"
)

// Clock is the time source of a Source: realtime pacing, reconnect backoff
// and the stall and bitrate statistics go through it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// SleepUntil returns nil at t (at once when t has passed), or ctx's
	// error when ctx ends first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock returns the Clock of the machine.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
