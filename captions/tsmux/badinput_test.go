package tsmux

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/teletext"
)

// ffmpeg's default PIDs: PMT 0x1000, streams from 0x100.
const (
	ffPMT   = 0x1000
	ffVideo = 0x100
)

// dropPIDs returns the stream without the packets of some PIDs.
func dropPIDs(t *testing.T, in []byte, keep func(i int, p tsPacket) bool) []byte {
	t.Helper()
	var out []byte
	for i, p := range parseTS(t, in) {
		if keep(i, p) {
			out = append(out, p.raw...)
		}
	}
	return out
}

func TestNoPMT(t *testing.T) {
	_, in := streamFixture(t, 0)
	noPMT := dropPIDs(t, in, func(_ int, p tsPacket) bool { return p.pid != ffPMT })
	noPAT := dropPIDs(t, in, func(_ int, p tsPacket) bool { return p.pid != 0 })
	for _, tc := range []struct {
		name string
		in   []byte
		opts Options
	}{
		{"no PMT", noPMT, Options{}},
		{"no PAT", noPAT, Options{}},
		{"no such program", in, Options{Program: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := MuxCaptions(bytes.NewReader(tc.in), &out, testCues(t), tc.opts)
			if !errors.Is(err, ErrNoPMT) {
				t.Fatalf("err = %v, want ErrNoPMT", err)
			}
			if !bytes.Equal(out.Bytes(), tc.in) {
				t.Fatal("output differs from the input")
			}
			// A live mux warns once the probe bound is passed.
			var warned []error
			opts := tc.opts
			opts.ProbeBytes = 200_000
			opts.OnWarning = func(err error) { warned = append(warned, err) }
			var w bytes.Buffer
			m, err := New(&w, opts)
			if err != nil {
				t.Fatal(err)
			}
			for o := 0; o < len(tc.in); o += tsSize {
				if err := m.WritePacket(tc.in[o : o+tsSize]); err != nil {
					t.Fatal(err)
				}
				if o == 300_000/tsSize*tsSize && (len(warned) != 1 || !errors.Is(warned[0], ErrNoPMT)) {
					t.Fatalf("after 300 kB: warnings %v", warned)
				}
			}
			if err := m.Close(); !errors.Is(err, ErrNoPMT) {
				t.Fatalf("Close: %v", err)
			}
			if !bytes.Equal(w.Bytes(), tc.in) {
				t.Fatal("live output differs from the input")
			}
		})
	}
}

// TestPMTChange changes the input's PMT halfway: the mux must re-apply
// the teletext entry to the new PMT with a new version.
func TestPMTChange(t *testing.T) {
	path, in := streamFixture(t, 0)
	pkts := parseTS(t, in)
	old := sections(pkts, ffPMT)[0]
	info, err := parsePMT(old)
	if err != nil {
		t.Fatal(err)
	}
	// New version: a registration descriptor in program_info.
	body := slices.Clone(old[3 : len(old)-4])
	body[2] = body[2]&0xC1 | (info.version+1)%32<<1
	pil := int(body[7]&0x0F)<<8 | int(body[8])
	reg := []byte{0x05, 0x04, 'T', 'E', 'S', 'T'}
	pil += len(reg)
	body[7], body[8] = body[7]&0xF0|byte(pil>>8), byte(pil)
	body = slices.Concat(body[:9], reg, body[9:])
	changed := sectionFrom(0x02, body)
	var mod []byte
	half := len(pkts) / 2
	for i, p := range pkts {
		raw := p.raw
		if p.pid == ffPMT && i > half {
			var cc uint8 = p.cc
			raw = packetizeSection(nil, changed, ffPMT, &cc)
		}
		mod = append(mod, raw...)
	}
	cues := testCues(t)
	out := muxFile(t, mod, cues, Options{})
	outPkts := parseTS(t, out)
	var versions []uint8
	for _, s := range sections(outPkts, ffPMT) {
		pi, err := parsePMT(s)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(pi.streams); n != len(info.streams)+1 || pi.streams[n-1] != (esEntry{0x06, 0x102}) {
			t.Fatalf("PMT streams %+v", pi.streams)
		}
		if len(versions) == 0 || versions[len(versions)-1] != pi.version {
			versions = append(versions, pi.version)
		}
		if pi.version == (info.version+2)%32 && !bytes.Contains(s, reg) {
			t.Fatal("new PMT version lacks the new descriptor")
		}
	}
	if want := []uint8{(info.version + 1) % 32, (info.version + 2) % 32}; !slices.Equal(versions, want) {
		t.Fatalf("PMT versions %v, want %v", versions, want)
	}
	checkPassThrough(t, mod, out, ffPMT, 0x102)
	outPath := writeTemp(t, "out.ts", out)
	checkDecoded(t, "ffmpeg", ffmpegDecode(t, outPath, 1, "-copyts"), cues, ffprobeStart(t, path), 100)
}

// injectPID returns in with a private packet on pid after every 50th
// packet from the middle on; each carries its index in the payload.
func injectPID(t *testing.T, in []byte, pid uint16) []byte {
	t.Helper()
	pkts := parseTS(t, in)
	var out []byte
	var cc uint8
	for i, p := range pkts {
		out = append(out, p.raw...)
		if i > len(pkts)/2 && i%50 == 0 {
			q := make([]byte, tsSize)
			q[0], q[1], q[2], q[3] = 0x47, byte(pid>>8), byte(pid), 0x10|cc
			cc = (cc + 1) & 0xF
			copy(q[4:], "injected")
			q[12], q[13] = byte(i>>8), byte(i)
			out = append(out, q...)
		}
	}
	return out
}

func TestPIDClash(t *testing.T) {
	_, in := streamFixture(t, 0)
	cues := testCues(t)
	t.Run("configured ES PID", func(t *testing.T) {
		var out bytes.Buffer
		err := MuxCaptions(bytes.NewReader(in), &out, cues, Options{PID: 0x101})
		if !errors.Is(err, ErrPIDClash) {
			t.Fatalf("err = %v, want ErrPIDClash", err)
		}
	})
	t.Run("configured PID appears", func(t *testing.T) {
		var out bytes.Buffer
		err := MuxCaptions(bytes.NewReader(injectPID(t, in, 0x1F00)), &out, cues, Options{PID: 0x1F00})
		if !errors.Is(err, ErrPIDClash) {
			t.Fatalf("err = %v, want ErrPIDClash", err)
		}
		if out.Len()%tsSize != 0 || out.Len() == 0 {
			t.Fatalf("output of %d bytes", out.Len())
		}
	})
	t.Run("auto PID moves", func(t *testing.T) {
		mod := injectPID(t, in, 0x102)
		var warned []error
		out := muxFile(t, mod, cues, Options{OnWarning: func(err error) { warned = append(warned, err) }})
		if len(warned) != 1 || !errors.Is(warned[0], ErrPIDMoved) {
			t.Fatalf("warnings %v", warned)
		}
		pkts := parseTS(t, out)
		var ttx []uint16
		for _, s := range sections(pkts, ffPMT) {
			pi, _ := parsePMT(s)
			if pid := pi.streams[len(pi.streams)-1].pid; len(ttx) == 0 || ttx[len(ttx)-1] != pid {
				ttx = append(ttx, pid)
			}
		}
		if !slices.Equal(ttx, []uint16{0x102, 0x103}) {
			t.Fatalf("teletext PIDs %#x", ttx)
		}
		// The injected packets pass unchanged and in order; the
		// teletext left PID 0x102 before the first of them.
		var injectedIn, injectedOut [][]byte
		for _, p := range parseTS(t, mod) {
			if p.pid == 0x102 {
				injectedIn = append(injectedIn, p.raw)
			}
		}
		firstInjected := -1
		for i, p := range pkts {
			if p.pid != 0x102 {
				continue
			}
			if bytes.HasPrefix(p.raw[4:], []byte("injected")) {
				injectedOut = append(injectedOut, p.raw)
				if firstInjected < 0 {
					firstInjected = i
				}
			} else if firstInjected >= 0 {
				t.Fatalf("teletext on PID 0x102 after the input took it (packet %d)", i)
			}
		}
		if !slices.EqualFunc(injectedIn, injectedOut, bytes.Equal) {
			t.Fatalf("%d injected packets in, %d out or changed", len(injectedIn), len(injectedOut))
		}
		// Every cue is on one of the two PIDs.
		var texts []string
		for _, pid := range ttx {
			pes, _ := ttxPES(pkts, pid)
			for _, b := range pes {
				if bytes.HasPrefix(b, []byte("injected")) {
					continue
				}
				d, err := teletext.Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				if l := d.Pages[0].Lines(); len(l) > 0 {
					texts = append(texts, strings.Join(l, "\n"))
				}
			}
		}
		if !slices.Equal(texts, cueTexts(cues)) {
			t.Fatalf("decoded %q", texts)
		}
	})
}

// TestSparsePMT keeps one input PMT in 25 (about every 2.5 s): the output
// must still carry the PMT at least every 0.5 s.
func TestSparsePMT(t *testing.T) {
	_, in := streamFixture(t, 0)
	n := 0
	sparse := dropPIDs(t, in, func(_ int, p tsPacket) bool {
		if p.pid != ffPMT {
			return true
		}
		n++
		return n%25 == 1
	})
	out := muxFile(t, sparse, testCues(t), Options{})
	pkts := parseTS(t, out)
	var lastPCR, lastPMT int64 = -1, -1
	var maxGap int64
	for _, p := range pkts {
		if p.pcr >= 0 {
			lastPCR = p.pcr / 300
		}
		if p.pid == ffPMT && p.pusi && lastPCR >= 0 {
			if lastPMT >= 0 {
				maxGap = max(maxGap, lastPCR-lastPMT)
			}
			lastPMT = lastPCR
		}
	}
	if gap := time.Duration(maxGap) * time.Second / 90000; gap > 500*time.Millisecond || gap == 0 {
		t.Fatalf("largest gap between PMTs: %v", gap)
	}
	checkPassThrough(t, sparse, out, ffPMT, 0x102)
	if n := ffmpegCCErrors(t, writeTemp(t, "out.ts", out)); n != 0 {
		t.Fatalf("ffmpeg: %d continuity errors", n)
	}
}

// TestDiscontinuity joins a stream to itself, so that the PCR jumps back,
// and runs it through a delay line: nothing stalls, every packet comes out,
// and a cue added after the jump is timed on the new clock.
func TestDiscontinuity(t *testing.T) {
	_, in := streamFixture(t, 0)
	joined := slices.Concat(in, in)
	var w bytes.Buffer
	const delay = time.Second
	m, err := New(&w, Options{Sync: SyncDelay, Delay: delay})
	if err != nil {
		t.Fatal(err)
	}
	var maxBuf int64
	var lastPCR int64 = -1
	added := false
	for i, p := range parseTS(t, joined) {
		if p.pcr >= 0 && p.pid == ffVideo {
			lastPCR = p.pcr / 300
		}
		if !added && i > len(joined)/tsSize*3/4 && lastPCR >= 0 {
			// A cue for "now" on the second half's clock: its words are
			// in the delay line.
			start := lastPCR - durTicks(500*time.Millisecond)
			if err := m.AddCue(captions.Cue{ID: 9, Start: start, End: start + 90000, Lines: []string{"after the jump"}}); err != nil {
				t.Fatal(err)
			}
			added = true
		}
		if err := m.WritePacket(p.raw); err != nil {
			t.Fatal(err)
		}
		maxBuf = max(maxBuf, m.Stats().Buffered)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if limit := int64(len(in)) * 2 / 10; maxBuf > limit {
		t.Errorf("delay line held %d bytes (1 s of a 10 s input is about %d)", maxBuf, len(in)/10)
	}
	out := w.Bytes()
	ib, ob := byPID(parseTS(t, joined)), byPID(parseTS(t, out))
	for pid, pk := range ib {
		if pid != ffPMT && !slices.EqualFunc(pk, ob[pid], bytes.Equal) {
			t.Errorf("PID %#x differs", pid)
		}
	}
	st := m.Stats()
	if st.CuesShown != 1 || st.CuesLate != 0 {
		t.Fatalf("stats %+v", st)
	}
	pkts := parseTS(t, out)
	pes, at := ttxPES(pkts, 0x102)
	if len(pes) != 2 {
		t.Fatalf("%d teletext PES, want show and clear", len(pes))
	}
	d, err := teletext.Decode(pes[0])
	if err != nil {
		t.Fatal(err)
	}
	var pcr int64 = -1
	for _, p := range pkts[:at[0]] {
		if p.pcr >= 0 {
			pcr = p.pcr / 300
		}
	}
	if lead := d.PTS - pcr; lead < 0 || lead > durTicks(DefaultLead) {
		t.Fatalf("PTS − PCR = %d ticks", lead)
	}
}

// TestCueHandling checks the documented handling of awkward cue lists in
// MuxCaptions: overlaps, zero durations, empty text, cues past the end.
func TestCueHandling(t *testing.T) {
	_, in := streamFixture(t, 0)
	sec := func(s float64) int64 { return int64(s * 90000) }
	cues := []captions.Cue{
		{ID: 1, Start: sec(1), End: sec(4), Lines: []string{"A"}},
		{ID: 2, Start: sec(2), End: sec(3), Lines: []string{"B"}}, // inside A: replaces it, then clears
		{ID: 4, Start: sec(8), End: sec(8.5), Lines: []string{" "}},
		{ID: 3, Start: sec(5), End: sec(5), Lines: []string{"C"}},    // no duration: DefaultDuration; out of order
		{ID: 5, Start: sec(8.9), End: sec(12), Lines: []string{"E"}}, // ends after the stream
		{ID: 6, Start: sec(9.5), End: sec(11), Lines: []string{"F"}}, // after the last PCR (9.24 s)
	}
	var warned []error
	out := muxFile(t, in, cues, Options{OnWarning: func(err error) { warned = append(warned, err) }})
	if len(warned) != 1 || !errors.Is(warned[0], ErrCueDropped) {
		t.Fatalf("warnings %v", warned)
	}
	pes, _ := ttxPES(parseTS(t, out), 0x102)
	type ev struct {
		ms   int64
		text string
	}
	var got []ev
	var origin int64 = -1
	for _, b := range pes {
		d, err := teletext.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if origin < 0 {
			origin = d.PTS - sec(1)
		}
		got = append(got, ev{(d.PTS - origin) / 90, strings.Join(d.Pages[0].Lines(), "\n")})
	}
	want := []ev{{1000, "A"}, {2000, "B"}, {3000, ""}, {5000, "C"}, {7000, ""}, {8000, ""}, {8900, "E"}}
	if len(got) != len(want)+1 || !slices.Equal(got[:len(want)], want) || got[len(want)].text != "" {
		t.Fatalf("page changes %v, want %v and a final clear", got, want)
	}
}
