package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Phases of a run; a sample's deltas count towards the phase it is taken in.
const (
	phaseWarmup = "warmup"
	phaseRun    = "run"
	phaseDrain  = "drain"
)

const (
	shutdownTimeout = 10 * time.Second
	readyTimeout    = 3 * time.Minute
	drainMin        = 3 * time.Second
	drainMax        = 20 * time.Second
	disturbWindow   = 5 * time.Second // after a reload's checks, still its doing
	minCPUInterval  = time.Second     // shorter sample intervals print no CPU figure
)

// sample is one look at the daemon.
type sample struct {
	at         time.Time
	elapsed    time.Duration // since the daemon started
	phase      string
	wall       time.Duration // since the previous sample
	ticks      uint64        // CPU ticks since the previous sample
	cpuPct     float64       // percent of one core since the previous sample
	rssKiB     uint64
	heapMiB    float64 // Go heap in use (go_memstats_heap_inuse_bytes)
	goSysMiB   float64 // memory the Go runtime holds from the OS (go_memstats_sys_bytes)
	cHeapMiB   float64 // C heap (glibc malloc) held: in use, free in the arenas and mmapped (subtitled_c_heap_bytes)
	fds        int
	goroutines float64
	cues       float64 // emitted since the daemon started
	dropped    float64 // audio seconds dropped since the daemon started
	lat        histogram
	wsClients  float64
	conns      int64 // client connections made so far
	clientCues int64 // cues the clients received so far
	metricsErr error
}

// sampler takes samples and keeps the running totals.
type sampler struct {
	d       *daemon
	start   time.Time
	out     io.Writer
	csv     *csv.Writer
	churn   *churn
	prev    *scrape
	prevAt  time.Time
	prevCPU uint64

	cues, dropped float64
	samples       []sample
}

var csvHeader = []string{"time", "elapsed_s", "phase", "cpu_pct", "rss_mib", "go_heap_mib", "go_sys_mib", "fds", "goroutines",
	"cues_total", "dropped_audio_s", "final_latency_mean_s", "ws_clients", "client_connections", "client_cues", "c_heap_mib"}

func (s *sampler) take(ctx context.Context, phase string) (sample, error) {
	now := time.Now()
	p, err := readProc(s.d.pid())
	if err != nil {
		return sample{}, fmt.Errorf("reading /proc: %w", err)
	}
	sm := sample{at: now, elapsed: now.Sub(s.start), phase: phase, rssKiB: p.rssKiB, fds: p.fds,
		wall: now.Sub(s.prevAt), ticks: p.ticks - s.prevCPU}
	sm.cpuPct = math.NaN() // too short an interval for the tick resolution
	if sm.wall >= minCPUInterval {
		sm.cpuPct = float64(sm.ticks) / clockTicks() / sm.wall.Seconds() * 100
	}
	s.prevAt, s.prevCPU = now, p.ticks
	m, err := s.d.metrics(ctx)
	if err != nil {
		sm.metricsErr = err
		sm.goroutines, sm.wsClients, sm.heapMiB, sm.goSysMiB, sm.cHeapMiB = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	} else {
		s.cues += counterDelta(s.prev, m, "subtitled_cues_total")
		s.dropped += counterDelta(s.prev, m, "subtitled_audio_dropped_seconds_total")
		sm.lat = histogramDelta(s.prev, m, "subtitled_final_latency_seconds")
		sm.goroutines = m.sum("go_goroutines")
		sm.heapMiB = m.sum("go_memstats_heap_inuse_bytes") / (1 << 20)
		sm.goSysMiB = m.sum("go_memstats_sys_bytes") / (1 << 20)
		sm.cHeapMiB = math.NaN() // a daemon without glibc has no such series
		if m.has("subtitled_c_heap_bytes") {
			sm.cHeapMiB = m.sum("subtitled_c_heap_bytes") / (1 << 20)
		}
		sm.wsClients = m.sum("subtitled_websocket_clients")
		s.prev = m
	}
	sm.cues, sm.dropped = s.cues, s.dropped
	if s.churn != nil {
		sm.conns, sm.clientCues = s.churn.connections.Load(), s.churn.cues.Load()
	}
	s.samples = append(s.samples, sm)
	s.print(sm)
	return sm, nil
}

func fmtF(v float64, prec int) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (s *sampler) print(sm sample) {
	line := fmt.Sprintf("%8s %-6s cpu %6s%%  rss %7.1f MiB  heap %6s MiB  fds %4d  goroutines %5s  cues %6.0f  dropped %6.1fs  latency %5ss  ws %4s  conns %6d  client cues %7d",
		sm.elapsed.Round(time.Second), sm.phase, orDash(fmtF(sm.cpuPct, 1)), float64(sm.rssKiB)/1024, orDash(fmtF(sm.heapMiB, 1)), sm.fds,
		orDash(fmtF(sm.goroutines, 0)), sm.cues, sm.dropped, orDash(fmtF(sm.lat.mean(), 2)),
		orDash(fmtF(sm.wsClients, 0)), sm.conns, sm.clientCues)
	if sm.metricsErr != nil {
		line += "  (metrics: " + sm.metricsErr.Error() + ")"
	}
	fmt.Fprintln(s.out, line)
	if s.csv != nil {
		_ = s.csv.Write([]string{
			sm.at.UTC().Format(time.RFC3339), fmtF(sm.elapsed.Seconds(), 1), sm.phase,
			fmtF(sm.cpuPct, 1), fmtF(float64(sm.rssKiB)/1024, 1), fmtF(sm.heapMiB, 1), fmtF(sm.goSysMiB, 1), strconv.Itoa(sm.fds),
			fmtF(sm.goroutines, 0), fmtF(sm.cues, 0), fmtF(sm.dropped, 2), fmtF(sm.lat.mean(), 3),
			fmtF(sm.wsClients, 0), strconv.FormatInt(sm.conns, 10), strconv.FormatInt(sm.clientCues, 10),
			fmtF(sm.cHeapMiB, 1),
		})
		s.csv.Flush()
	}
}

// result is what a run measured and what it found wrong.
type result struct {
	Dir         string
	Channels    int
	Clients     int
	Duration    time.Duration // the run phase
	Interrupted bool

	LoadBefore, LoadAfter string

	Connections, ClientCues, Messages, GapMessages int64
	DialFailures                                   map[string]int
	ClientEvents                                   map[string]int

	Reloads        int
	ReloadsApplied int

	CPUAvgPct       float64 // run phase, percent of one core
	RSSBase, RSSEnd uint64  // KiB: end of warm-up, after the clients left
	RSSMax          uint64
	HeapBase        float64 // MiB of Go heap in use, same instants
	HeapEnd         float64
	// RSS under steady load, which the growth limit applies to: from the
	// first sample once the clients have churned for one warm-up period
	// (without clients: the end of warm-up) to the last sample of the run.
	RSSLoadRef, RSSLoadEnd uint64 // KiB
	RSSLoadRefAt           time.Duration
	GoroutinesBase         float64
	GoroutinesEnd          float64
	FDsBase, FDsEnd        int
	Cues                   float64 // emitted in the run phase
	DroppedRun             float64
	DroppedWarmup          float64
	Latency                histogram // run phase
	LatencyMeanMax         float64   // highest per-sample mean in the run phase
	SampleErrors           int
	ExitCode               int
	ExitTook               time.Duration
	ExitErr                string
	DaemonDied             string
	CaptionFiles           int
	CaptionFileCues        int
	CaptionFileError       []string

	ReloadViolations    []string
	OrderViolations     []string
	Disconnects         []string // closed by the server, not during a reload of their channel
	ReloadedDisconnects int      // closed by the server while their own channel was reloaded
	Gaps                []string // verbatim id gaps not explained by a reload of their channel

	LogCounts map[string]int
	LogFirst  map[string][]string

	Failures []string

	// Least-squares slopes over the run samples from RSSLoadRefAt, in
	// MiB per minute: the process's RSS and the C heap (glibc malloc).
	RSSSlope, CHeapSlope float64
	// C heap at the load reference and at the end of the run, MiB.
	CHeapLoadRef, CHeapLoadEnd float64
}

// RSSGrowthPct is the RSS growth under steady load (RSSLoadRef to
// RSSLoadEnd), the figure the growth limit applies to.
func (r *result) RSSGrowthPct() float64 { return growthPct(r.RSSLoadRef, r.RSSLoadEnd) }

// RSSIdleGrowthPct is the RSS growth from the end of warm-up (no clients
// yet) to after the clients left: it includes what the clients' peak left
// behind in the allocators.
func (r *result) RSSIdleGrowthPct() float64 { return growthPct(r.RSSBase, r.RSSEnd) }

func growthPct(from, to uint64) float64 {
	if from == 0 || to == 0 {
		return math.NaN()
	}
	return (float64(to) - float64(from)) / float64(from) * 100
}

// run performs one soak run and prints its samples and summary to out.
// It returns an error when the run could not be done at all; what the run
// found wrong is in result.Failures.
func run(ctx context.Context, o options, out io.Writer) (*result, error) {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return nil, err
	}
	input, err := filepath.Abs(o.input)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{bin, input} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	model := ""
	if o.model != "" {
		if model, err = filepath.Abs(o.model); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "subtitled-soak-")
	if err != nil {
		return nil, err
	}
	keep := o.keep
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	logf := func(string, ...any) {}
	if o.verbose {
		logf = func(format string, args ...any) { fmt.Fprintf(out, "  "+format+"\n", args...) }
	}

	params := configParams{Input: input, Model: model, Fast: o.fast, Clients: o.clients, Dir: dir, Shutdown: shutdownTimeout}
	for i := range o.channels {
		params.Names = append(params.Names, fmt.Sprintf("Soak channel %d", i+1))
	}
	cfgPath := filepath.Join(dir, "subtitled.yaml")
	if err := writeConfig(cfgPath, params); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	res := &result{Dir: dir, Channels: o.channels, Clients: o.clients, LoadBefore: loadAvg(), ExitCode: -1}
	modelName := "embedded demo model"
	if model != "" {
		modelName = model
	}
	fmt.Fprintf(out, "soak: %s, %d channels of %s (%s), model %s, %d clients, warm-up %s, run %s, reload every %s, sample every %s\n",
		bin, o.channels, input, map[bool]string{true: "as fast as possible", false: "real time"}[o.fast], modelName,
		o.clients, o.warmup, o.duration, durOrNever(o.reload), o.sample)
	fmt.Fprintf(out, "soak: load average before: %s; working directory %s\n", res.LoadBefore, dir)

	start := time.Now()
	d, err := startDaemon(bin, cfgPath, addr, dir, filepath.Join(dir, "daemon.log"))
	if err != nil {
		return nil, err
	}
	if err := d.waitReady(ctx, readyTimeout); err != nil {
		d.kill()
		keep = true
		return nil, fmt.Errorf("%w (kept %s)", err, dir)
	}
	fmt.Fprintf(out, "soak: daemon pid %d ready at %s after %s\n", d.pid(), addr, time.Since(start).Round(time.Millisecond))

	var csvFile *os.File
	s := &sampler{d: d, start: start, out: out, prevAt: start}
	if o.csv != "" {
		if csvFile, err = os.Create(o.csv); err != nil {
			d.kill()
			return nil, err
		}
		defer csvFile.Close()
		s.csv = csv.NewWriter(csvFile)
		_ = s.csv.Write(csvHeader)
	}
	cl := newChurn(addr, o.channels, o.seed, logf)
	s.churn = cl
	rl := &reloader{d: d, cfgPath: cfgPath, params: params, logf: logf}
	rl.params.Names = append([]string(nil), params.Names...)
	stopReload := make(chan struct{})
	reloadDone := make(chan struct{})
	close(reloadDone) // replaced when reloads start

	sampleT := time.NewTicker(o.sample)
	defer sampleT.Stop()
	warmT := time.NewTimer(o.warmup)
	defer warmT.Stop()
	var endC <-chan time.Time
	phase := phaseWarmup
	var base sample
	var runStart time.Time
	takeSample := func(ph string) (sample, bool) {
		sm, err := s.take(ctx, ph)
		if err != nil {
			res.SampleErrors++
			fmt.Fprintln(out, "soak: sample:", err)
			return sm, false
		}
		if sm.metricsErr != nil {
			res.SampleErrors++
		}
		return sm, true
	}

loop:
	for {
		select {
		case <-sampleT.C:
			takeSample(phase)
		case <-warmT.C:
			var ok bool
			if base, ok = takeSample(phaseWarmup); !ok || base.metricsErr != nil {
				// The baseline must be complete; try once more.
				time.Sleep(time.Second)
				base, _ = takeSample(phaseWarmup)
			}
			fmt.Fprintf(out, "soak: warm-up over: baseline rss %.1f MiB, %s goroutines, %d fds; starting %d clients\n",
				float64(base.rssKiB)/1024, fmtF(base.goroutines, 0), base.fds, o.clients)
			phase, runStart = phaseRun, time.Now()
			sampleT.Reset(o.sample)
			cl.start(ctx, o.clients)
			if o.reload > 0 {
				reloadDone = make(chan struct{})
				go func() {
					defer close(reloadDone)
					rl.loop(ctx, o.reload, stopReload)
				}()
			}
			endC = time.After(o.duration)
		case <-endC:
			takeSample(phaseRun)
			break loop
		case <-d.exited:
			res.DaemonDied = fmt.Sprintf("daemon exited during the %s phase: %v", phase, d.exitErr)
			break loop
		case <-ctx.Done():
			res.Interrupted = true
			if phase == phaseRun {
				takeSample(phaseRun)
			}
			break loop
		}
	}
	if !runStart.IsZero() {
		res.Duration = time.Since(runStart)
	}

	// Drain: no more reloads or clients; give the daemon a moment to let go.
	close(stopReload)
	<-reloadDone
	cl.stop()
	if res.DaemonDied == "" && phase == phaseRun {
		fmt.Fprintf(out, "soak: clients stopped; waiting for the daemon to release them\n")
		drainStart := time.Now()
		for time.Since(drainStart) < drainMax {
			if !sleep(context.Background(), time.Second) || !d.running() {
				break
			}
			if time.Since(drainStart) < drainMin {
				continue
			}
			p, err1 := readProc(d.pid())
			m, err2 := d.metrics(context.Background())
			if err1 == nil && err2 == nil && m.sum("subtitled_websocket_clients") == 0 &&
				m.sum("go_goroutines") <= base.goroutines+float64(o.maxGoroutine) && p.fds <= base.fds+o.maxFD {
				break
			}
		}
		if end, ok := takeSample(phaseDrain); ok {
			res.RSSBase, res.RSSEnd = base.rssKiB, end.rssKiB
			res.HeapBase, res.HeapEnd = base.heapMiB, end.heapMiB
			res.GoroutinesBase, res.GoroutinesEnd = base.goroutines, end.goroutines
			res.FDsBase, res.FDsEnd = base.fds, end.fds
		}
		if chs, err := d.channels(context.Background()); err == nil {
			rl.checkPending(chs, true)
		}
	}

	// Stop the daemon.
	if res.DaemonDied == "" {
		code, took, err := d.terminate(shutdownTimeout + 5*time.Second)
		res.ExitCode, res.ExitTook = code, took
		if err != nil {
			res.ExitErr = err.Error()
		} else if code != 0 {
			res.ExitErr = fmt.Sprintf("exit status %d after SIGTERM (%v)", code, d.exitErr)
		}
	}
	res.LoadAfter = loadAvg()
	res.LogCounts, res.LogFirst = d.logs.snapshot()
	res.CaptionFiles, res.CaptionFileCues, res.CaptionFileError = checkCaptionFiles(filepath.Join(dir, "out"))

	// Totals.
	var runTicks uint64
	var runWall time.Duration
	latMeanMax := math.NaN()
	var cuesBefore float64
	for _, sm := range s.samples {
		if sm.rssKiB > res.RSSMax {
			res.RSSMax = sm.rssKiB
		}
		switch sm.phase {
		case phaseRun:
			runTicks += sm.ticks
			runWall += sm.wall
			res.Latency.add(sm.lat)
			if m := sm.lat.mean(); !math.IsNaN(m) && (math.IsNaN(latMeanMax) || m > latMeanMax) {
				latMeanMax = m
			}
		case phaseWarmup:
			cuesBefore = sm.cues
			res.DroppedWarmup = sm.dropped
		}
	}
	res.LatencyMeanMax = latMeanMax
	if runWall > 0 {
		res.CPUAvgPct = float64(runTicks) / clockTicks() / runWall.Seconds() * 100
	}
	for i := len(s.samples) - 1; i >= 0; i-- {
		if s.samples[i].phase == phaseRun {
			res.Cues = s.samples[i].cues - cuesBefore
			res.DroppedRun = s.samples[i].dropped - res.DroppedWarmup
			res.RSSLoadEnd = s.samples[i].rssKiB
			break
		}
	}
	res.RSSLoadRef, res.RSSLoadRefAt = base.rssKiB, base.elapsed
	if o.clients > 0 {
		refAt := base.elapsed + o.warmup
		for _, sm := range s.samples {
			if sm.phase == phaseRun && sm.elapsed >= refAt && sm.rssKiB != res.RSSLoadEnd {
				res.RSSLoadRef, res.RSSLoadRefAt = sm.rssKiB, sm.elapsed
				break
			}
		}
	}
	res.RSSSlope, res.CHeapSlope, res.CHeapLoadRef, res.CHeapLoadEnd = loadTrend(s.samples, res.RSSLoadRefAt)
	res.Connections, res.ClientCues = cl.connections.Load(), cl.cues.Load()
	res.Messages, res.GapMessages = cl.messages.Load(), cl.gapMsgs.Load()
	events, kinds, dials := cl.snapshot()
	res.ClientEvents, res.DialFailures = kinds, dials
	reloads, late := rl.results()
	res.Reloads = len(reloads)
	for _, ev := range reloads {
		if ev.applied {
			res.ReloadsApplied++
		}
		for _, p := range ev.problems {
			res.ReloadViolations = append(res.ReloadViolations, fmt.Sprintf("reload %d (%s): %s", ev.n, ev.target, p))
		}
	}
	res.ReloadViolations = append(res.ReloadViolations, late...)
	classifyEvents(res, events, reloads, start)

	res.Failures = judge(res, o)
	if len(res.Failures) > 0 {
		keep = true
	}
	printSummary(out, res, o)
	return res, nil
}

func durOrNever(d time.Duration) string {
	if d <= 0 {
		return "never"
	}
	return d.String()
}

// classifyEvents sorts the clients' events into reload violations (on a
// channel other than the one being reloaded), disconnects and gaps
// explained by a reload of their own channel, and the rest.
func classifyEvents(res *result, events []clientEvent, reloads []reloadEvent, start time.Time) {
	during := func(t time.Time) *reloadEvent {
		for i := range reloads {
			r := &reloads[i]
			if !r.at.IsZero() && !t.Before(r.at) && !t.After(r.done.Add(disturbWindow)) {
				return r
			}
		}
		return nil
	}
	across := func(from, to time.Time) *reloadEvent {
		for i := range reloads {
			r := &reloads[i]
			if !r.at.IsZero() && !r.at.Before(from) && !r.at.After(to) {
				return r
			}
		}
		return nil
	}
	at := func(t time.Time) string { return "+" + t.Sub(start).Round(time.Second).String() }
	for _, e := range events {
		what := fmt.Sprintf("%s %s/%s: %s", at(e.at), e.channel, e.track, e.detail)
		switch e.kind {
		case eventOrder:
			res.OrderViolations = append(res.OrderViolations, what)
		case eventDisconnect:
			switch r := during(e.at); {
			case r == nil:
				res.Disconnects = append(res.Disconnects, what)
			case r.target == e.channel:
				res.ReloadedDisconnects++
			default:
				res.ReloadViolations = append(res.ReloadViolations,
					fmt.Sprintf("reload %d (%s): a client of untouched channel %s was disconnected: %s", r.n, r.target, e.channel, what))
			}
		case eventGap:
			switch r := across(e.from, e.at); {
			case r == nil:
				res.Gaps = append(res.Gaps, what)
			case r.target == e.channel:
				res.Gaps = append(res.Gaps, what+" (across a reload of this channel)")
			default:
				res.ReloadViolations = append(res.ReloadViolations,
					fmt.Sprintf("reload %d (%s): untouched channel %s skipped cue ids: %s", r.n, r.target, e.channel, what))
			}
		}
	}
}

// judge lists what makes the run fail.
func judge(r *result, o options) []string {
	var f []string
	if r.DaemonDied != "" {
		f = append(f, r.DaemonDied)
	}
	if r.Interrupted {
		f = append(f, "interrupted before the end")
	}
	if r.RSSBase > 0 {
		if g := r.RSSGrowthPct(); g > o.maxRSSGrowth || math.IsNaN(g) {
			f = append(f, fmt.Sprintf("RSS grew %s%% under load after warm-up (%.1f → %.1f MiB), limit %g%%",
				orDash(fmtF(g, 1)), float64(r.RSSLoadRef)/1024, float64(r.RSSLoadEnd)/1024, o.maxRSSGrowth))
		}
		if r.GoroutinesEnd > r.GoroutinesBase+float64(o.maxGoroutine) || math.IsNaN(r.GoroutinesEnd) {
			f = append(f, fmt.Sprintf("goroutines did not come back: %s after the clients left, %s at the end of warm-up (limit +%d)",
				fmtF(r.GoroutinesEnd, 0), fmtF(r.GoroutinesBase, 0), o.maxGoroutine))
		}
		if r.FDsEnd > r.FDsBase+o.maxFD {
			f = append(f, fmt.Sprintf("open files grew: %d after the clients left, %d at the end of warm-up (limit +%d)",
				r.FDsEnd, r.FDsBase, o.maxFD))
		}
	} else if r.DaemonDied == "" && !r.Interrupted {
		f = append(f, "no baseline or end sample: RSS, goroutines and open files not compared")
	}
	f = append(f, r.ReloadViolations...)
	if n := len(r.OrderViolations); n > 0 {
		f = append(f, fmt.Sprintf("%d cue ids not above the previous one on a connection, first: %s", n, r.OrderViolations[0]))
	}
	if n := len(r.Disconnects); n > 0 {
		f = append(f, fmt.Sprintf("the server closed %d client connections, first: %s", n, r.Disconnects[0]))
	}
	if r.ExitErr != "" {
		f = append(f, "shutdown: "+r.ExitErr)
	}
	for _, e := range r.CaptionFileError {
		f = append(f, "caption file: "+e)
	}
	if r.Cues == 0 {
		f = append(f, "no cue was emitted during the run")
	}
	if r.Clients > 0 && r.ClientCues == 0 {
		f = append(f, "the clients received no cue")
	}
	return f
}

// checkCaptionFiles counts the cues of the WebVTT files in dir (rotated
// ones included) and reports any that does not start with the WEBVTT
// signature.
func checkCaptionFiles(dir string) (files, cues int, problems []string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, nil
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		files++
		sc := bufio.NewScanner(f)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				if !strings.HasPrefix(strings.TrimPrefix(line, "\ufeff"), "WEBVTT") {
					problems = append(problems, fmt.Sprintf("%s does not start with WEBVTT", e.Name()))
					break
				}
			}
			if strings.Contains(line, "-->") {
				cues++
			}
		}
		f.Close()
	}
	return files, cues, problems
}

// fmtLatency writes the q-quantile of h (q = 1: the bound of the highest
// bucket used), as "> B s" when it lies above the highest finite bound B.
func fmtLatency(h histogram, q float64) string {
	v := h.quantile(q)
	if q >= 1 {
		v = h.maxBound()
	}
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 1):
		top := math.NaN()
		for _, b := range h.bounds {
			if !math.IsInf(b, 1) {
				top = b
			}
		}
		return "> " + fmtF(top, 0) + " s"
	case q >= 1:
		return "≤ " + fmtF(v, 2) + " s"
	}
	return fmtF(v, 2) + " s"
}

func mib(kib uint64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func printSummary(w io.Writer, r *result, o options) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("=== soak summary ===")
	p("duration:            %s run after %s warm-up%s", r.Duration.Round(time.Second), o.warmup, map[bool]string{true: " (interrupted)"}[r.Interrupted])
	p("channels:            %d (%s)", r.Channels, map[bool]string{true: "as fast as possible", false: "real time"}[o.fast])
	p("clients:             %d", r.Clients)
	p("connections made:    %d (failed dials: %s)", r.Connections, formatCounts(r.DialFailures))
	p("cues to clients:     %d in %d messages (%d gap messages)", r.ClientCues, r.Messages, r.GapMessages)
	p("reloads:             %d, %d applied", r.Reloads, r.ReloadsApplied)
	p("cues emitted:        %.0f during the run", r.Cues)
	p("CPU:                 %.1f%% of one core on average, %.1f%% per channel", r.CPUAvgPct, r.CPUAvgPct/float64(max(r.Channels, 1)))
	p("RSS under load:      %s at %s, %s at the end of the run (%s%%, limit %g%%)",
		mib(r.RSSLoadRef), r.RSSLoadRefAt.Round(time.Second), mib(r.RSSLoadEnd), fmtF(r.RSSGrowthPct(), 1), o.maxRSSGrowth)
	p("RSS slope:           %s MiB/min under load (least squares over the same samples)", orDash(fmtF(r.RSSSlope, 3)))
	p("RSS idle:            %s after warm-up, %s after the clients left (%s%%), max %s", mib(r.RSSBase), mib(r.RSSEnd), fmtF(r.RSSIdleGrowthPct(), 1), mib(r.RSSMax))
	p("C heap under load:   %s MiB at %s, %s MiB at the end of the run, slope %s MiB/min",
		orDash(fmtF(r.CHeapLoadRef, 1)), r.RSSLoadRefAt.Round(time.Second), orDash(fmtF(r.CHeapLoadEnd, 1)), orDash(fmtF(r.CHeapSlope, 3)))
	p("Go heap in use:      %s MiB after warm-up, %s MiB at the end", orDash(fmtF(r.HeapBase, 1)), orDash(fmtF(r.HeapEnd, 1)))
	p("goroutines:          %s after warm-up, %s after the clients left", orDash(fmtF(r.GoroutinesBase, 0)), orDash(fmtF(r.GoroutinesEnd, 0)))
	p("open files:          %d after warm-up, %d after the clients left", r.FDsBase, r.FDsEnd)
	p("dropped audio:       %.1f s during the run (%.1f s during warm-up)", r.DroppedRun, r.DroppedWarmup)
	lat := func(q float64) string { return fmtLatency(r.Latency, q) }
	p("final latency:       mean %ss, p50 %s, p95 %s, p99 %s, max %s (from the histogram); highest %s mean %ss; %.0f cues",
		orDash(fmtF(r.Latency.mean(), 2)), lat(0.5), lat(0.95), lat(0.99), lat(1), o.sample, orDash(fmtF(r.LatencyMeanMax, 2)), r.Latency.count)
	p("shutdown:            exit %d after %s", r.ExitCode, r.ExitTook.Round(time.Millisecond))
	p("caption files:       %d, %d cues", r.CaptionFiles, r.CaptionFileCues)
	p("load average:        %s before, %s after", r.LoadBefore, r.LoadAfter)
	p("daemon log:          %s warnings, %s errors", strconv.Itoa(r.LogCounts["WARN"]), strconv.Itoa(r.LogCounts["ERROR"]))
	for _, lvl := range []string{"ERROR", "WARN"} {
		for _, l := range r.LogFirst[lvl] {
			p("  %s", l)
		}
	}
	if r.SampleErrors > 0 {
		p("sample errors:       %d", r.SampleErrors)
	}
	if r.ReloadedDisconnects > 0 {
		p("note: %d clients of a channel being reloaded were disconnected", r.ReloadedDisconnects)
	}
	if len(r.Gaps) > 0 {
		p("note: %d verbatim cue id gaps on a connection, first: %s", len(r.Gaps), r.Gaps[0])
	}
}

// loadTrend fits lines to the run-phase samples taken at or after from:
// it returns the slopes of RSS and of the C heap in MiB per minute, and the
// C heap at the first and last of those samples (NaN where unknown).
func loadTrend(samples []sample, from time.Duration) (rssSlope, cSlope, cFirst, cLast float64) {
	var rss, cheap [][2]float64
	cFirst, cLast = math.NaN(), math.NaN()
	for _, sm := range samples {
		if sm.phase != phaseRun || sm.elapsed < from {
			continue
		}
		at := sm.elapsed.Minutes()
		rss = append(rss, [2]float64{at, float64(sm.rssKiB) / 1024})
		if !math.IsNaN(sm.cHeapMiB) {
			cheap = append(cheap, [2]float64{at, sm.cHeapMiB})
			if math.IsNaN(cFirst) {
				cFirst = sm.cHeapMiB
			}
			cLast = sm.cHeapMiB
		}
	}
	return slope(rss), slope(cheap), cFirst, cLast
}

// slope is the least-squares slope of the points (x, y), NaN for fewer
// than two distinct x.
func slope(pts [][2]float64) float64 {
	n := float64(len(pts))
	var sx, sy, sxx, sxy float64
	for _, p := range pts {
		sx += p[0]
		sy += p[1]
		sxx += p[0] * p[0]
		sxy += p[0] * p[1]
	}
	d := n*sxx - sx*sx
	if len(pts) < 2 || d <= 0 {
		return math.NaN()
	}
	return (n*sxy - sx*sy) / d
}
