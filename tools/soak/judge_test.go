package main

import (
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	o := options{maxRSSGrowth: 5, maxGoroutine: 10, maxFD: 10}
	good := func() *result {
		return &result{Channels: 8, Clients: 200, RSSBase: 100000, RSSEnd: 110000, RSSLoadRef: 105000, RSSLoadEnd: 110000, GoroutinesBase: 300, GoroutinesEnd: 305,
			FDsBase: 40, FDsEnd: 45, Cues: 500, ClientCues: 1000}
	}
	cases := []struct {
		name   string
		change func(r *result)
		want   string // substring of the only failure; "" for none
	}{
		{name: "pass", change: func(*result) {}},
		{name: "rss", change: func(r *result) { r.RSSLoadEnd = 111300 }, want: "RSS grew 6.0% under load"},
		{name: "rss unknown", change: func(r *result) { r.RSSLoadEnd = 0 }, want: "RSS grew -% under load"},
		{name: "goroutines", change: func(r *result) { r.GoroutinesEnd = 311 }, want: "goroutines did not come back: 311"},
		{name: "goroutines unknown", change: func(r *result) { r.GoroutinesEnd = nan() }, want: "goroutines did not come back"},
		{name: "fds", change: func(r *result) { r.FDsEnd = 51 }, want: "open files grew: 51"},
		{name: "reload", change: func(r *result) { r.ReloadViolations = []string{"reload 1 (ch1): untouched channel ch2 restarted"} }, want: "ch2 restarted"},
		{name: "order", change: func(r *result) { r.OrderViolations = []string{"ch1/verbatim: cue id 3 after 4"} }, want: "1 cue ids not above"},
		{name: "disconnect", change: func(r *result) { r.Disconnects = []string{"x"} }, want: "server closed 1 client"},
		{name: "exit", change: func(r *result) { r.ExitErr = "exit status 2" }, want: "shutdown: exit status 2"},
		{name: "died", change: func(r *result) { r.DaemonDied = "daemon exited during the run phase"; r.RSSBase = 0 }, want: "daemon exited"},
		{name: "no cues", change: func(r *result) { r.Cues = 0 }, want: "no cue was emitted"},
		{name: "clients got none", change: func(r *result) { r.ClientCues = 0 }, want: "clients received no cue"},
		{name: "no clients, none needed", change: func(r *result) { r.Clients, r.ClientCues = 0, 0 }},
		{name: "no baseline", change: func(r *result) { r.RSSBase = 0 }, want: "no baseline"},
		{name: "caption file", change: func(r *result) { r.CaptionFileError = []string{"ch1.vtt does not start with WEBVTT"} }, want: "ch1.vtt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.change(r)
			f := judge(r, o)
			if tc.want == "" {
				if len(f) != 0 {
					t.Fatalf("failures %q, want none", f)
				}
				return
			}
			if len(f) != 1 || !strings.Contains(f[0], tc.want) {
				t.Fatalf("failures %q, want one containing %q", f, tc.want)
			}
		})
	}
}

func TestClassifyEvents(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	reloads := []reloadEvent{{n: 1, target: "ch1", at: at(100), done: at(104), applied: true}}
	events := []clientEvent{
		{kind: eventDisconnect, channel: "ch1", at: at(101)},                  // its own channel reloaded: noted
		{kind: eventDisconnect, channel: "ch2", at: at(108)},                  // within done+5 s: violation
		{kind: eventDisconnect, channel: "ch2", at: at(200)},                  // no reload: unexpected
		{kind: eventGap, channel: "ch3", from: at(95), at: at(103)},           // across the reload: violation
		{kind: eventGap, channel: "ch1", from: at(95), at: at(103)},           // its own channel: noted
		{kind: eventGap, channel: "ch3", from: at(150), at: at(151)},          // no reload: noted
		{kind: eventOrder, channel: "ch2", from: at(150), at: at(151)},        // always a failure
		{kind: eventDisconnect, channel: "ch4", at: at(99), detail: "before"}, // before the reload: unexpected
	}
	r := &result{}
	classifyEvents(r, events, reloads, t0)
	if r.ReloadedDisconnects != 1 {
		t.Errorf("ReloadedDisconnects = %d, want 1", r.ReloadedDisconnects)
	}
	if len(r.ReloadViolations) != 2 || !strings.Contains(r.ReloadViolations[0], "untouched channel ch2 was disconnected") ||
		!strings.Contains(r.ReloadViolations[1], "untouched channel ch3 skipped cue ids") {
		t.Errorf("ReloadViolations = %q", r.ReloadViolations)
	}
	if len(r.Disconnects) != 2 || !strings.HasPrefix(r.Disconnects[0], "+3m20s ch2/") {
		t.Errorf("Disconnects = %q", r.Disconnects)
	}
	if len(r.Gaps) != 2 || !strings.Contains(r.Gaps[0], "across a reload of this channel") {
		t.Errorf("Gaps = %q", r.Gaps)
	}
	if len(r.OrderViolations) != 1 {
		t.Errorf("OrderViolations = %q", r.OrderViolations)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-channels", "2", "-clients", "0", "-reload", "0", "-duration", "20s"}, &strings.Builder{})
	if err != nil || o.channels != 2 || o.clients != 0 || o.reload != 0 || o.duration != 20*time.Second || o.seed == 0 {
		t.Fatalf("parseFlags = %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-channels", "0"}, {"-clients", "-1"}, {"-duration", "0s"}, {"-reload", "-1s"}, {"extra"}} {
		if _, err := parseFlags(bad, &strings.Builder{}); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}
