package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// reloadEvent is one SIGHUP reload and what checking it found.
type reloadEvent struct {
	n        int
	target   string
	at       time.Time // SIGHUP sent
	done     time.Time // checks finished
	applied  bool
	problems []string
}

// pendingCheck remembers a reloaded channel's last cue ids, to check once it
// emits again that its ids continued rather than restarting.
type pendingCheck struct {
	reload int
	target string
	ids    map[string]uint64
}

// reloader rewrites the config with one channel renamed and sends SIGHUP,
// then checks that the reload was applied and that no other channel was
// restarted or lost cue ids.
type reloader struct {
	d       *daemon
	cfgPath string
	params  configParams // owned by the reloader once it runs
	logf    func(string, ...any)

	mu      sync.Mutex
	events  []reloadEvent
	pending []pendingCheck
	late    []string // problems found by pending checks, by reload
}

const (
	reloadConfirmTimeout = 30 * time.Second
	reloadSettle         = 2 * time.Second
)

// loop reloads every interval until stop is closed.
func (r *reloader) loop(ctx context.Context, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ev := r.once(ctx, n)
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
	}
}

func (r *reloader) once(ctx context.Context, n int) reloadEvent {
	i := n % len(r.params.Names)
	ev := reloadEvent{n: n + 1, target: channelID(i)}
	fail := func(format string, args ...any) {
		p := fmt.Sprintf(format, args...)
		ev.problems = append(ev.problems, p)
		if r.logf != nil {
			r.logf("reload %d (%s): %s", ev.n, ev.target, p)
		}
	}
	before, err := r.d.channels(ctx)
	if err != nil {
		fail("before the reload: %v", err)
		return ev
	}
	m0, err := r.d.metrics(ctx)
	if err != nil {
		fail("before the reload: %v", err)
		return ev
	}
	applied0, _ := m0.value("subtitled_reloads_total", map[string]string{"result": "applied"})
	rejected0, _ := m0.value("subtitled_reloads_total", map[string]string{"result": "rejected"})

	name := fmt.Sprintf("Soak channel %d (reload %d)", i+1, n+1)
	r.params.Names[i] = name
	if err := writeConfig(r.cfgPath, r.params); err != nil {
		fail("%v", err)
		return ev
	}
	ev.at = time.Now()
	if err := syscall.Kill(r.d.pid(), syscall.SIGHUP); err != nil {
		fail("SIGHUP: %v", err)
		return ev
	}

	// The reload counter says whether it was applied.
	deadline := time.Now().Add(reloadConfirmTimeout)
	for !ev.applied {
		if m, err := r.d.metrics(ctx); err == nil {
			applied, _ := m.value("subtitled_reloads_total", map[string]string{"result": "applied"})
			rejected, _ := m.value("subtitled_reloads_total", map[string]string{"result": "rejected"})
			if rejected > rejected0 {
				fail("the daemon rejected the reload (see its log)")
				break
			}
			ev.applied = applied > applied0
		}
		if ev.applied || time.Now().After(deadline) || !sleep(ctx, 200*time.Millisecond) {
			break
		}
	}
	if !ev.applied {
		if len(ev.problems) == 0 {
			fail("not applied within %s", reloadConfirmTimeout)
		}
		ev.done = time.Now()
		return ev
	}
	sleep(ctx, reloadSettle)
	after, err := r.d.channels(ctx)
	if err != nil {
		fail("after the reload: %v", err)
		ev.done = time.Now()
		return ev
	}
	if got := after[ev.target].Name; got != name {
		fail("/v1/channels names it %q, want %q", got, name)
	}
	for id, b := range before {
		if id == ev.target {
			continue
		}
		a, ok := after[id]
		if !ok {
			fail("untouched channel %s disappeared", id)
			continue
		}
		if a.Restarts != b.Restarts {
			fail("untouched channel %s restarted: restarts %d → %d", id, b.Restarts, a.Restarts)
		}
		for track := range b.LastCue {
			if was, now := b.lastCueID(track), a.lastCueID(track); now < was {
				fail("untouched channel %s: last %s cue id went from %d to %d", id, track, was, now)
			}
		}
	}
	ids := map[string]uint64{}
	for track := range before[ev.target].LastCue {
		ids[track] = before[ev.target].lastCueID(track)
	}
	r.mu.Lock()
	r.pending = append(r.pending, pendingCheck{reload: ev.n, target: ev.target, ids: ids})
	r.mu.Unlock()
	r.checkPending(after, false)
	ev.done = time.Now()
	return ev
}

// checkPending checks, for each reloaded channel that has emitted a cue
// since, that its ids continued above those before the reload. With final
// set, checks that could not be decided are dropped.
func (r *reloader) checkPending(now map[string]channelStatus, final bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keep []pendingCheck
	for _, p := range r.pending {
		st, ok := now[p.target]
		for track, was := range p.ids {
			cur := st.lastCueID(track)
			switch {
			case !ok || cur == was || cur == 0:
				continue // no cue since the reload yet
			case cur < was:
				r.late = append(r.late, fmt.Sprintf("reload %d (%s): %s cue ids restarted: %d after the reload, %d before",
					p.reload, p.target, track, cur, was))
			}
			delete(p.ids, track)
		}
		if len(p.ids) > 0 && !final {
			keep = append(keep, p)
		}
	}
	r.pending = keep
}

// results returns the reloads done and the problems found after them.
func (r *reloader) results() ([]reloadEvent, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]reloadEvent(nil), r.events...), append([]string(nil), r.late...)
}
