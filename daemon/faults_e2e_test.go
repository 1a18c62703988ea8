package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/ingest/source"
	"github.com/subtitled/subtitled/tools/faults/fault"
)

// counters are a run's error counters: TR 101 290 by indicator, and the
// demuxer's and decoder's other counters by name (the names of
// `transcribe --stats` and of /v1/channels' tr101290 and demux objects).
type counters struct {
	tr    map[string]uint64
	other map[string]uint64
}

// parseStats reads the --stats JSON line from stderr.
func parseStats(t *testing.T, stderr []byte) counters {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(stderr), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if !bytes.HasPrefix(lines[i], []byte(`{"`)) {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(lines[i], &raw); err != nil {
			t.Fatalf("bad --stats line %q: %v", lines[i], err)
		}
		c := counters{other: map[string]uint64{}}
		if err := json.Unmarshal(raw["tr101290"], &c.tr); err != nil || c.tr == nil {
			t.Fatalf("--stats line without tr101290: %s", lines[i])
		}
		for k, v := range raw {
			var n uint64
			if k != "tr101290" && json.Unmarshal(v, &n) == nil {
				c.other[k] = n
			}
		}
		return c
	}
	t.Fatalf("no --stats line on stderr:\n%s", stderr)
	return counters{}
}

// transcribeFixture runs `transcribe --stats` on a TS and returns the cues
// and the counters; it fails on a non-zero exit or a panic.
func transcribeFixture(t *testing.T, ts string) ([]jsonCue, counters) {
	t.Helper()
	out, errOut, code := subtitled(t, nil, "transcribe", ts, "--model", toneModelDir(), "--format", "json", "--stats", "--quiet")
	if code != 0 || bytes.Contains(errOut, []byte("panic:")) {
		t.Fatalf("transcribe %s: exit %d:\n%s", filepath.Base(ts), code, errOut)
	}
	return parseJSONCues(t, out), parseStats(t, errOut)
}

// cueText is the text of each cue.
func cueText(cues []jsonCue) []string {
	var texts []string
	for _, c := range cues {
		texts = append(texts, strings.Join(c.Lines, " "))
	}
	return texts
}

// faultCase is one fixture and the counter its fault must move: a TR 101
// 290 indicator (tr), another counter (other), or, with neither, the sum of
// every error counter. The counters in zero (TR 101 290 or other names) must
// stay 0: the fault is one the stream may legally have. With same, every
// sentence is recognised, not only the one after the fault (and by
// `transcribe` with the clean stream's cue times). A stall case is a fault
// of live delivery: it runs only through a live channel.
type faultCase struct {
	name, tr, other string
	zero            []string
	same            bool
	stall           bool
}

var faultCases = []faultCase{
	{name: "cc", tr: "1.4_continuity_count_error"},
	{name: "loss1pct", tr: "1.4_continuity_count_error"},
	{name: "burstloss", tr: "1.4_continuity_count_error"},
	{name: "nopat", tr: "1.3_pat_error"},
	{name: "nopmt", tr: "1.5_pmt_error"},
	{name: "pmtchange", other: "stream_changes"},
	// The PAT swaps the program for another one (new program_number, PMT
	// PID and audio PID).
	{name: "programchange", other: "stream_changes"},
	{name: "syncloss", tr: "1.2_sync_byte_error"},
	{name: "tei", tr: "2.1_transport_error"},
	{name: "scramble", tr: "scrambled_audio_packets"},
	{name: "truncate", other: "tail_bytes"},
	{name: "bitflip"}, // any error counter
	{name: "nulls", other: "null_packets"},
	// Bursts of stuffing at twenty times the rate: nothing may be lost.
	{name: "spikes", other: "null_packets", zero: []string{"discontinuities", "pes_dropped", "1.4_continuity_count_error", "2.3b_pcr_discontinuity"}},
	{name: "ptsjump-fwd", tr: "2.5_pts_error"},
	// A backward jump is no PTS_error (that is a gap over 700 ms), but the
	// audio PES after it must be delivered as a discontinuity.
	{name: "ptsjump-back", other: "discontinuities"},
	// The whole clock re-stamped to wrap past 2^33 inside "big fox": one
	// unwrap, and no break in the timeline at all.
	{name: "ptswrap", other: "pts_wraps", same: true,
		zero: []string{"discontinuities", "pes_dropped", "stream_changes", "2.5_pts_error", "2.3b_pcr_discontinuity"}},
	{name: "pcrjump", tr: "2.3b_pcr_discontinuity"},
	{name: "codecchange", other: "stream_changes"},
	// The clean stream over UDP, stopping for 10 s before "lazy dog": the
	// channel reports stalled, then captions resume. Checked by
	// TestFaultFixturesLive alone, by the channel's state.
	{name: "stall", stall: true, same: true, zero: []string{"discontinuities", "pes_dropped", "1.4_continuity_count_error", "2.3b_pcr_discontinuity", "2.5_pts_error"}},
}

// stallFor is how long the stall case's input stops.
const stallFor = 10 * time.Second

// lookup is the counter name in cs, TR 101 290 first.
func lookup(t *testing.T, cs counters, name string) uint64 {
	t.Helper()
	if v, ok := cs.tr[name]; ok {
		return v
	}
	v, ok := cs.other[name]
	if !ok {
		t.Fatalf("no counter %s in %v / %v", name, cs.tr, cs.other)
	}
	return v
}

// checkZero fails for every counter of c.zero that moved.
func (c faultCase) checkZero(t *testing.T, cs counters) {
	t.Helper()
	for _, name := range c.zero {
		if n := lookup(t, cs, name); n != 0 {
			t.Errorf("%s = %d, want 0", name, n)
		}
	}
}

// count is the counter of c in cs.
func (c faultCase) count(t *testing.T, cs counters) uint64 {
	t.Helper()
	switch {
	case c.tr != "":
		v, ok := cs.tr[c.tr]
		if !ok {
			t.Fatalf("no %s in tr101290 %v", c.tr, cs.tr)
		}
		return v
	case c.other != "":
		v, ok := cs.other[c.other]
		if !ok {
			t.Fatalf("no counter %s in %v", c.other, cs.other)
		}
		return v
	}
	var n uint64
	for _, v := range cs.tr {
		n += v
	}
	return n + cs.other["pes_errors"] + cs.other["audio_decode_errors"]
}

func (c faultCase) counter() string {
	if c.tr != "" {
		return c.tr
	}
	if c.other != "" {
		return c.other
	}
	return "any error counter"
}

// faultFixtures damages a clean tone-alphabet TS in every way of the fault
// catalogue. The faults run from the pause after the first sentence to
// 1.2 s before the last one; the truncation cuts 1 s into the final pause;
// the PTS wrap lands in the middle of the second sentence. It returns the
// fixtures, the clean stream's path, its sentences, and the stall (at the
// end of the window).
func faultFixtures(t *testing.T, dir string) (map[string][]byte, string, []string, fault.Stall) {
	t.Helper()
	const pause = 2.0
	sentences := []string{"good day", "big fox", "lazy dog"}
	cleanTS, sp := toneTS(t, dir, "clean", pause, sentences...)
	clean, err := os.ReadFile(cleanTS)
	if err != nil {
		t.Fatal(err)
	}
	at := func(sample int, sec float64) float64 {
		return (float64(sample) + sec*float64(sp.rate)) / float64(sp.samples)
	}
	// The second sentence lasts from its onset to the third's, less the pause.
	mid := (sp.onsets[1] + sp.onsets[2] - int(pause*float64(sp.rate))) / 2
	opts := fault.Options{
		Seed:   42,
		Window: fault.Window{From: at(sp.onsets[1], -1.5), To: at(sp.onsets[2], -1.2)},
		Cut:    at(sp.samples, -1.0),
		Wrap:   at(mid, 0),
	}
	fx, err := fault.Fixtures(clean, opts)
	if err != nil {
		t.Fatal(err)
	}
	fx["codecchange"] = codecChangeTS(t, dir, pause, sentences)
	if len(faultCases) != len(fault.Names)+2 {
		t.Fatalf("%d cases for %d fixtures + codecchange + stall", len(faultCases), len(fault.Names))
	}
	for _, c := range faultCases {
		if c.stall {
			fx[c.name] = clean
			continue
		}
		if bytes.Equal(fx[c.name], clean) || fx[c.name] == nil {
			t.Fatalf("fixture %s is missing or the clean stream", c.name)
		}
	}
	// The wrap must land inside "big fox": PTS 0 between its first and
	// last sample, counted from the first audio PES.
	wrapped, err := fault.Parse(fx["ptswrap"])
	if err != nil {
		t.Fatal(err)
	}
	pts := wrapped.AudioPTS()
	i := slices.IndexFunc(pts, func(v int64) bool { return v < pts[0] })
	if i < 0 {
		t.Fatal("ptswrap: the PTS never wraps")
	}
	wrapAt := float64(pts[i]+1<<33-pts[0]) / 90000
	first, end := float64(sp.onsets[1])/float64(sp.rate), float64(sp.onsets[2])/float64(sp.rate)-pause
	if wrapAt <= first || wrapAt >= end {
		t.Fatalf("ptswrap: the wrap is at %.2f s, outside %q (%.2f-%.2f s)", wrapAt, sentences[1], first, end)
	}
	s, err := fault.Parse(clean)
	if err != nil {
		t.Fatal(err)
	}
	return fx, cleanTS, sentences, s.StallAt(opts.Window.To, stallFor)
}

// checkLastCue fails unless the last cue is the last sentence (tone-model
// leakage letters tolerated, see toneArtefact).
func checkLastCue(t *testing.T, texts []string, last string) {
	t.Helper()
	if len(texts) == 0 {
		t.Fatalf("no cues: want the last to be %q", last)
	}
	if got := texts[len(texts)-1]; got != last {
		if !toneArtefact(got, last) {
			t.Errorf("cues %q: want the last to be %q", texts, last)
		} else {
			t.Logf("last cue %q is %q with tone-model leakage letters (the recogniser restarted at a sensitive phase)", got, last)
		}
	}
}

// TestFaultFixtures runs every fixture through `transcribe`: it survives
// each fault, reports it in the counter that belongs to it, and recognises
// the sentence spoken after it exactly.
func TestFaultFixtures(t *testing.T) {
	dir := t.TempDir()
	fx, cleanTS, sentences, _ := faultFixtures(t, dir)
	// The clean stream: every sentence, and none of the counters below.
	cleanCues, cleanStats := transcribeFixture(t, cleanTS)
	if got, want := strings.Join(cueText(cleanCues), "|"), strings.Join(sentences, "|"); got != want {
		t.Fatalf("clean stream: cues %q, want %q", got, want)
	}
	if cleanStats.other["parser_panics"] != 0 {
		t.Errorf("clean stream: %d parser panics", cleanStats.other["parser_panics"])
	}
	last := sentences[len(sentences)-1]
	for _, tt := range faultCases {
		if tt.stall {
			continue // a file has no wall clock to stall: TestFaultFixturesLive
		}
		t.Run(tt.name, func(t *testing.T) {
			if n := tt.count(t, cleanStats); n != 0 {
				t.Fatalf("clean stream already counts %d %s", n, tt.counter())
			}
			path := filepath.Join(dir, tt.name+".ts")
			if err := os.WriteFile(path, fx[tt.name], 0o644); err != nil {
				t.Fatal(err)
			}
			cues, st := transcribeFixture(t, path)
			texts := cueText(cues)
			checkLastCue(t, texts, last)
			if n := tt.count(t, st); n == 0 {
				t.Errorf("%s = 0, want more; stats %+v", tt.counter(), st)
			}
			tt.checkZero(t, st)
			if tt.same {
				// The same cues, at the same times (from the first audio).
				if len(cues) != len(cleanCues) {
					t.Fatalf("cues %q, want %q", texts, cueText(cleanCues))
				}
				for i, c := range cues {
					w := cleanCues[i]
					if strings.Join(c.Lines, " ") != strings.Join(w.Lines, " ") || c.Start != w.Start || c.End != w.End {
						t.Errorf("cue %d: %q %.3f-%.3f, want %q %.3f-%.3f", i, c.Lines, c.Start, c.End, w.Lines, w.Start, w.End)
					}
				}
			}
			if st.other["parser_panics"] != 0 {
				t.Errorf("%d go-astits panics recovered", st.other["parser_panics"])
			}
			t.Logf("cues %q; %s = %d", texts, tt.counter(), tt.count(t, st))
		})
	}
}

// TestFaultFixturesLive plays every fixture in real time as a live channel
// of one daemon: each channel survives its fault, /v1/channels counts it,
// and the sentence after the fault reaches the WebSocket. The stall case is
// the clean stream sent over UDP with a 10 s stop: the channel must report
// stalled, then live again, and recognise every sentence.
func TestFaultFixturesLive(t *testing.T) {
	dir := t.TempDir()
	fx, cleanTS, sentences, stall := faultFixtures(t, dir)
	udpAddr := freePort(t)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "models:\n  tone: {path: %s}\nchannels:\n", toneModelDir())
	stallID := ""
	for _, c := range faultCases {
		input := fmt.Sprintf(`{url: "udp://%s"}`, udpAddr)
		if c.stall {
			stallID = c.name
		} else {
			path := filepath.Join(dir, c.name+".ts")
			if err := os.WriteFile(path, fx[c.name], 0o644); err != nil {
				t.Fatal(err)
			}
			input = fmt.Sprintf("{url: %s, realtime: true}", path)
		}
		fmt.Fprintf(&cfg, "  - id: %s\n    language: en\n    model: tone\n    input: %s\n"+
			"    outputs:\n      - websocket: {tracks: [verbatim]}\n", c.name, input)
	}
	p := startDaemon(t, dir, cfg.String())
	clients := map[string]*wsClient{}
	for _, c := range faultCases {
		// since=1 replays what the channel emitted before this client came.
		clients[c.name] = dialWS(t, p.addr, c.name, "track=verbatim&since=1")
	}

	// The stall: once the UDP socket is bound, play the clean stream into
	// it, watching the channel's state.
	waitUntil(t, 30*time.Second, "the UDP input of "+stallID+" is open", func() bool { return p.channel(stallID).Input.State != "" })
	watch := watchStates(p, stallID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fed := make(chan error, 1)
	go func() { fed <- feedUDP(ctx, cleanTS, udpAddr, stall) }()

	for _, c := range faultCases {
		if !c.stall {
			p.waitState(c.name, "ended")
		}
	}
	if err := <-fed; err != nil {
		t.Fatalf("feeding %s: %v", stallID, err)
	}
	last := sentences[len(sentences)-1]
	// A UDP input never ends: its last sentence is the end.
	waitUntil(t, 30*time.Second, "the last sentence on "+stallID, func() bool {
		cues := clients[stallID].cues()
		return len(cues) > 0 && cues[len(cues)-1].text() == last
	})
	states := watch.stop()

	_, body := p.get("/v1/channels")
	var v struct {
		Channels []struct {
			ID       string            `json:"id"`
			State    string            `json:"state"`
			TR101290 map[string]uint64 `json:"tr101290"`
			Demux    map[string]uint64 `json:"demux"`
		} `json:"channels"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	status := map[string]counters{}
	for _, ch := range v.Channels {
		status[ch.ID] = counters{tr: ch.TR101290, other: ch.Demux}
	}
	for _, c := range faultCases {
		t.Run(c.name, func(t *testing.T) {
			ws := clients[c.name]
			if !c.stall {
				waitUntil(t, 30*time.Second, "end of stream on "+c.name, func() bool { return ws.has("eos") })
			}
			var texts []string
			var starts []float64
			for _, m := range ws.cues() {
				texts = append(texts, m.text())
				starts = append(starts, m.Start)
			}
			checkLastCue(t, texts, last)
			if c.same {
				if got, want := strings.Join(texts, "|"), strings.Join(sentences, "|"); got != want {
					t.Errorf("cues %q, want %q", texts, sentences)
				}
				for i := 1; i < len(starts); i++ {
					if starts[i] <= starts[i-1] {
						t.Errorf("cue %d starts at %.3f s, before cue %d (%.3f s)", i, starts[i], i-1, starts[i-1])
					}
				}
			}
			st, ok := status[c.name]
			if !ok {
				t.Fatalf("channel %s not in /v1/channels", c.name)
			}
			if c.stall {
				t.Logf("states %v", states)
				// live, then stalled during the stop, then live again.
				i := slices.Index(states, "stalled")
				if i < 0 || !slices.Contains(states[:i], "live") || !slices.Contains(states[i:], "live") {
					t.Errorf("channel states %v: want live, stalled, live", states)
				}
			} else if n := c.count(t, st); n == 0 {
				t.Errorf("/v1/channels: %s = 0 after the fault; status %+v", c.counter(), st)
			}
			c.checkZero(t, st)
			if st.other["parser_panics"] != 0 {
				t.Errorf("%d go-astits panics recovered", st.other["parser_panics"])
			}
			t.Logf("cues %q", texts)
		})
	}
	if strings.Contains(p.logs(), "panic") {
		t.Fatalf("the daemon logged a panic:\n%s", p.logs())
	}
}

// feedUDP plays the TS file at path into a UDP address in real time (paced
// by its PCR, by the daemon's own file source) in datagrams of seven
// packets, with the stall put in. It returns when the file is sent.
func feedUDP(ctx context.Context, path, addr string, st fault.Stall) error {
	src, err := source.Open(ctx, source.Options{Kind: source.KindFile, Path: path, Realtime: true})
	if err != nil {
		return err
	}
	defer src.Close()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	r := st.Reader(ctx, src)
	buf := make([]byte, 7*fault.PacketSize)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// stateWatch records the states a channel goes through, polling
// /v1/channels every 50 ms.
type stateWatch struct {
	mu     sync.Mutex
	states []string
	quit   chan struct{}
	done   chan struct{}
}

func watchStates(p *daemonProc, id string) *stateWatch {
	w := &stateWatch{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if s := p.channel(id).State; s != "" {
				w.mu.Lock()
				if n := len(w.states); n == 0 || w.states[n-1] != s {
					w.states = append(w.states, s)
				}
				w.mu.Unlock()
			}
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// stop ends the watch and returns the states seen, each change once.
func (w *stateWatch) stop() []string {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.states)
}

// codecChangeTS is a splice of two recordings: the first sentences with AAC
// audio, then the last with MP2, same PIDs and a new PMT version, the clock
// continuing.
func codecChangeTS(t *testing.T, dir string, pause float64, sentences []string) []byte {
	t.Helper()
	n := len(sentences) - 1
	head, sp := toneTS(t, dir, "head", pause, sentences[:n]...)
	tail := spellSentences(t, 48000, pause, sentences[n:]...)
	wavPath := filepath.Join(dir, "tail.wav")
	if err := os.WriteFile(wavPath, tail.wav, 0o644); err != nil {
		t.Fatal(err)
	}
	tailTS := filepath.Join(dir, "tail.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-i", wavPath,
		"-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-c:a", "mp2", "-ac", "2", "-ar", "48000", "-b:a", "192k",
		"-tables_version", "1", "-output_ts_offset", fmt.Sprintf("%.3f", float64(sp.samples)/float64(sp.rate)),
		"-f", "mpegts", tailTS)
	var parts [][]byte
	for _, p := range []string{head, tailTS} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, b)
	}
	return fault.Concat(parts...)
}

// toneArtefact reports whether got is want with letters inserted that the
// tone-alphabet fixture model emits by leakage: a letter whose tone is the
// next band up or down from a neighbouring letter's ('b' beside 'a', 'e'
// beside 'd', 'w' beside 'x'). The model does this for some start phases of
// a segment modulo its 40 ms output frame, which a recogniser restart after a
// discontinuity lands on at random; fresh streams always start in phase. Any
// other difference (a lost, changed or extra letter, or word) is a failure.
func toneArtefact(got, want string) bool {
	g, w := []rune(got), []rune(want)
	if len(g) <= len(w) {
		return false
	}
	next := func(a, b rune) bool { return a >= 'a' && a <= 'z' && b >= 'a' && b <= 'z' && (a-b == 1 || b-a == 1) }
	// Greedy alignment: every rune of want in order; each extra rune of got
	// must be a neighbour-band letter of the rune before or after it.
	j := 0
	for i := 0; i < len(g); i++ {
		if j < len(w) && g[i] == w[j] {
			j++
			continue
		}
		leak := (i > 0 && next(g[i], g[i-1])) || (i+1 < len(g) && next(g[i], g[i+1]))
		if !leak {
			return false
		}
	}
	return j == len(w)
}

func TestFaultToneArtefact(t *testing.T) {
	tests := []struct {
		got  string
		want bool
	}{
		{"labzy dog", true},
		{"lbazy edog", true},
		{"lazy dog", false}, // equal: not an artefact, compared before
		{"lazy do", false},
		{"lazy cog", false},
		{"lazyq dog", false},
		{"lazy dogs", false},
		{"lazy dog fox", false},
		{"lazyx dog", true}, // 'x' is the band below 'y'
	}
	for _, tt := range tests {
		if got := toneArtefact(tt.got, "lazy dog"); got != tt.want {
			t.Errorf("toneArtefact(%q) = %v, want %v", tt.got, got, tt.want)
		}
	}
}
