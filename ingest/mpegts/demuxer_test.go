package mpegts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/ingest"
)

type demuxResult struct {
	pes   []PES
	errs  []error // reports (ErrNoAudio, ErrUnsupportedCodec, ErrProgramNotFound)
	end   error   // io.EOF or the terminal error
	stats Stats
}

func isReport(err error) bool {
	return errors.Is(err, ErrNoAudio) || errors.Is(err, ErrUnsupportedCodec) || errors.Is(err, ErrProgramNotFound)
}

// demuxAll runs a Demuxer to the end of r and collects everything.
func demuxAll(t testing.TB, r io.Reader, opts Options) demuxResult {
	t.Helper()
	d, err := New(r, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var res demuxResult
	for range 1 << 22 {
		p, err := d.Next(context.Background())
		switch {
		case err == nil:
			res.pes = append(res.pes, p)
		case isReport(err):
			res.errs = append(res.errs, err)
		default:
			res.end = err
			res.stats = d.Stats()
			if _, err2 := d.Next(context.Background()); err2 != err {
				t.Fatalf("terminal error not sticky: %v then %v", err, err2)
			}
			return res
		}
	}
	t.Fatal("Next never reached the end of input")
	return res
}

func demuxBytes(t testing.TB, data []byte, opts Options) demuxResult {
	t.Helper()
	res := demuxAll(t, bytes.NewReader(data), opts)
	if !errors.Is(res.end, io.EOF) {
		t.Fatalf("end = %v, want io.EOF", res.end)
	}
	return res
}

func TestDemuxSimple(t *testing.T) {
	data := buildSimple(20, 400, 90000, 0x0F, nil, nil)
	res := demuxBytes(t, data, Options{})
	if len(res.errs) != 0 {
		t.Fatalf("errors: %v", res.errs)
	}
	if len(res.pes) != 20 {
		t.Fatalf("%d PES, want 20", len(res.pes))
	}
	for i, p := range res.pes {
		if !bytes.Equal(p.Data, audioFrame(i, 400)) {
			t.Fatalf("PES %d: data differs", i)
		}
		want := PES{Program: 1, PID: testAudioPID, StreamType: 0x0F, Codec: ingest.CodecAACADTS, PTS: 90000 + int64(i)*9000, HasPTS: true}
		p.Data = nil
		if fmt.Sprintf("%+v", p) != fmt.Sprintf("%+v", want) {
			t.Fatalf("PES %d = %+v, want %+v", i, p, want)
		}
	}
	s := res.stats
	if s.PESDelivered != 20 || s.ContinuityError != 0 || s.PATError != 0 || s.PMTError != 0 || s.PTSError != 0 ||
		s.PCRDiscontinuityError != 0 || s.PIDError != 0 || s.Discontinuities != 0 || s.Packets != uint64(len(data)/PacketSize) {
		t.Fatalf("stats = %+v", s)
	}
}

// stopReader serves data and fails the test if read past it.
type stopReader struct {
	t    *testing.T
	data []byte
	done bool
}

func (r *stopReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if !r.done {
			r.t.Error("demuxer read past a complete PES instead of delivering it")
		}
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestDemuxNoLookahead checks that a PES with a known length is delivered as
// soon as its last packet arrives, without waiting for the next one.
func TestDemuxNoLookahead(t *testing.T) {
	data := buildSimple(1, 1000, 90000, 0x0F, nil, nil)
	r := &stopReader{t: t, data: data}
	d, err := New(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Next(context.Background())
	if err != nil || !bytes.Equal(p.Data, audioFrame(0, 1000)) {
		t.Fatalf("Next = %v, %v", p, err)
	}
	r.done = true
	if _, err := d.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
}

var casesCodec = []struct {
	name  string
	st    uint8
	desc  []byte
	codec ingest.Codec
}{
	{"mp2", 0x03, nil, ingest.CodecMP2},
	{"mpeg2 audio", 0x04, nil, ingest.CodecMP2},
	{"aac", 0x0F, nil, ingest.CodecAACADTS},
	{"latm", 0x11, nil, ingest.CodecAACLATM},
	{"ac3", 0x81, nil, ingest.CodecAC3},
	{"eac3", 0x87, nil, ingest.CodecEAC3},
	{"dvb ac3", 0x06, []byte{tagAC3, 1, 0x00}, ingest.CodecAC3},
	{"dvb eac3", 0x06, []byte{tagEnhancedAC3, 1, 0x00}, ingest.CodecEAC3},
	{"opus", 0x06, append(regDesc("Opus"), 0x7F, 2, 0x80, 0x02), ingest.CodecOpus},
}

func TestDemuxCodecs(t *testing.T) {
	for _, c := range casesCodec {
		t.Run(c.name, func(t *testing.T) {
			desc := append(langDesc("eng", 0), c.desc...)
			res := demuxBytes(t, buildSimple(3, 100, 0, c.st, desc, nil), Options{})
			if len(res.errs) != 0 || len(res.pes) != 3 {
				t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
			}
			if p := res.pes[0]; p.Codec != c.codec || p.StreamType != c.st || p.Language != "eng" {
				t.Fatalf("PES = %+v, want codec %v", p, c.codec)
			}
		})
	}
}

// multiAudio writes one program with the given streams; every stream gets
// the same PES sequence, with the PID in the first payload byte.
func multiAudio(streams []testES, count int) []byte {
	b := newTSBuilder()
	for i := range count {
		if i%5 == 0 {
			b.section(pidPAT, patSection(0, [2]uint16{1, testPMTPID}))
			b.section(testPMTPID, pmtSection(1, 0, streams[0].pid, streams...))
		}
		for j, es := range streams {
			o := noPkt
			if j == 0 {
				o.pcr = int64(i) * 9000
			}
			b.pes(es.pid, 0xC0, 9000+int64(i)*9000, []byte{byte(es.pid >> 8), byte(es.pid), byte(i)}, o, false)
		}
	}
	return b.bytes()
}

func TestDemuxLanguage(t *testing.T) {
	data := multiAudio([]testES{
		{pid: 0x100, st: 0x1B},
		{pid: 0x101, st: 0x0F, desc: langDesc("deu", 0)},
		{pid: 0x102, st: 0x0F, desc: langDesc("eng", 3)}, // audio description
		{pid: 0x103, st: 0x03, desc: langDesc("eng", 0)},
		{pid: 0x104, st: 0x82, desc: langDesc("fra", 0)},
	}, 6)
	cases := []struct {
		lang string
		pid  uint16
		want string
	}{
		{"", 0x101, "deu"},
		{"eng", 0x103, "eng"},
		{"en", 0x103, "eng"},
		{"ger", 0x101, "deu"},
		{"fra", 0x101, "deu"}, // only in an unsupported codec: first supported stream
		{"spa", 0x101, "deu"},
	}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			res := demuxBytes(t, data, Options{Language: c.lang})
			if len(res.errs) != 0 || len(res.pes) != 6 {
				t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
			}
			for _, p := range res.pes {
				if p.PID != c.pid || p.Language != c.want || int(p.Data[0])<<8|int(p.Data[1]) != int(c.pid) {
					t.Fatalf("PES = %+v, want PID 0x%x", p, c.pid)
				}
			}
		})
	}
}

func TestDemuxUnsupported(t *testing.T) {
	res := demuxBytes(t, multiAudio([]testES{{pid: 0x100, st: 0x1B}, {pid: 0x1234, st: 0x82}, {pid: 0x101, st: 0x06, desc: []byte{tagDTS, 0}}}, 4), Options{})
	if len(res.pes) != 0 || len(res.errs) != 1 {
		t.Fatalf("%d PES, errors %v; want one error", len(res.pes), res.errs)
	}
	err := res.errs[0]
	var se *StreamError
	if !errors.Is(err, ErrUnsupportedCodec) || !errors.As(err, &se) || se.PID != 0x1234 || se.StreamType != 0x82 || se.Program != 1 {
		t.Fatalf("err = %#v", err)
	}
	for _, want := range []string{"0x1234", "4660", "stream_type 0x82", "dts", "program 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestDemuxNoAudio(t *testing.T) {
	onlyVideo := multiAudio([]testES{{pid: 0x100, st: 0x1B}, {pid: 0x101, st: 0x06, desc: []byte{0x56, 0}}}, 4)
	noPAT := newTSBuilder()
	for i := range 3 {
		noPAT.pes(0x100, 0xC0, int64(i), []byte{1}, noPkt, false)
	}
	noPMT := newTSBuilder()
	noPMT.section(pidPAT, patSection(0, [2]uint16{7, 0x1000}))
	noPMT.pes(0x100, 0xC0, 0, []byte{1}, noPkt, false)
	noPES := newTSBuilder()
	noPES.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
	noPES.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F}))
	emptyPAT := newTSBuilder()
	emptyPAT.section(pidPAT, patSection(0))
	emptyPAT.section(pidPAT, patSection(0))
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"video only", onlyVideo, []string{"program 1", "0x0100 h264", "private_pes"}},
		{"no PAT", noPAT.bytes(), []string{"no PAT"}},
		{"no PMT", noPMT.bytes(), []string{"program 7", "no PMT seen"}},
		{"no data", noPES.bytes(), []string{"0x0100", "delivered no PES"}},
		{"empty PAT", emptyPAT.bytes(), []string{"no programs"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := demuxBytes(t, c.data, Options{})
			if len(res.errs) != 1 || !errors.Is(res.errs[0], ErrNoAudio) {
				t.Fatalf("errors %v, want one ErrNoAudio", res.errs)
			}
			for _, w := range c.want {
				if !strings.Contains(res.errs[0].Error(), w) {
					t.Errorf("message %q lacks %q", res.errs[0], w)
				}
			}
		})
	}
}

// twoPrograms: program 1 has video only, program 2 has audio on 0x200.
func twoPrograms() []byte {
	b := newTSBuilder()
	for i := range 6 {
		if i%3 == 0 {
			b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}, [2]uint16{2, 0x1100}))
			b.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x1B}))
			b.section(0x1100, pmtSection(2, 0, 0x200, testES{pid: 0x200, st: 0x0F}))
		}
		b.pes(0x100, 0xE0, int64(i)*9000, []byte{0xEE}, pktOpts{pcr: int64(i) * 9000}, true)
		b.pes(0x200, 0xC0, int64(i)*9000, []byte{2, byte(i)}, pktOpts{pcr: int64(i) * 9000}, false)
	}
	return b.bytes()
}

func TestDemuxPrograms(t *testing.T) {
	data := twoPrograms()
	res := demuxBytes(t, data, Options{})
	if len(res.errs) != 0 || len(res.pes) != 6 || res.pes[0].Program != 2 || res.pes[0].PID != 0x200 {
		t.Fatalf("auto: %d PES, errors %v, first %+v", len(res.pes), res.errs, res.pes)
	}
	res = demuxBytes(t, data, Options{Program: 2})
	if len(res.errs) != 0 || len(res.pes) != 6 {
		t.Fatalf("program 2: %d PES, errors %v", len(res.pes), res.errs)
	}
	res = demuxBytes(t, data, Options{Program: 1})
	if len(res.pes) != 0 || len(res.errs) != 1 || !errors.Is(res.errs[0], ErrNoAudio) {
		t.Fatalf("program 1: %d PES, errors %v", len(res.pes), res.errs)
	}
	res = demuxBytes(t, data, Options{Program: 3})
	if len(res.pes) != 0 || len(res.errs) != 1 || !errors.Is(res.errs[0], ErrProgramNotFound) ||
		!strings.Contains(res.errs[0].Error(), "program 3") {
		t.Fatalf("program 3: %d PES, errors %v", len(res.pes), res.errs)
	}
}

// TestDemuxWaitsForAllPMTs: the auto choice must not settle on program 1
// (no audio) before program 2's PMT was seen.
func TestDemuxProbeBound(t *testing.T) {
	b := newTSBuilder()
	b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}, [2]uint16{2, 0x1100}))
	b.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F}))
	for i := range 30 {
		b.pes(0x100, 0xC0, int64(i)*9000, []byte{byte(i)}, noPkt, false)
	}
	// Program 2's PMT never comes: after ProbePackets, program 1 is used.
	res := demuxBytes(t, b.bytes(), Options{ProbePackets: 10})
	if len(res.errs) != 0 || len(res.pes) == 0 || res.pes[0].PID != 0x100 {
		t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
	}
	if n := len(res.pes); n < 30-10 || n > 30 {
		t.Fatalf("%d PES", n)
	}
}

func TestDemuxContinuity(t *testing.T) {
	clean := buildSimple(10, 500, 0, 0x0F, nil, nil) // each PES spans 3 packets
	pkts := splitPackets(clean)
	// Find the middle packet of PES 4 (PUSI at k: drop k+1).
	k := nthPUSI(pkts, testAudioPID, 4)
	dropped := joinPackets(append(append([][]byte{}, pkts[:k+1]...), pkts[k+2:]...))
	res := demuxBytes(t, dropped, Options{})
	if len(res.pes) != 9 {
		t.Fatalf("%d PES, want 9", len(res.pes))
	}
	p := res.pes[4]
	if !p.Discontinuity || p.Reasons != ReasonContinuity || !bytes.Equal(p.Data, audioFrame(5, 500)) {
		t.Fatalf("PES after the loss: %+v reasons %v", p.PTS, p.Reasons)
	}
	s := res.stats
	if s.ContinuityError != 1 || s.PESDropped != 1 || s.Discontinuities != 1 {
		t.Fatalf("stats = %+v", s)
	}

	// One duplicate packet is legal and ignored.
	dup := joinPackets(append(append(append([][]byte{}, pkts[:k+2]...), pkts[k+1]), pkts[k+2:]...))
	res = demuxBytes(t, dup, Options{})
	if len(res.pes) != 10 || res.stats.ContinuityError != 0 || res.stats.Discontinuities != 0 || !bytes.Equal(res.pes[4].Data, audioFrame(4, 500)) {
		t.Fatalf("duplicate: %d PES, stats %+v", len(res.pes), res.stats)
	}
	// A third copy is an error.
	trip := joinPackets(append(append(append([][]byte{}, pkts[:k+2]...), pkts[k+1], pkts[k+1]), pkts[k+2:]...))
	res = demuxBytes(t, trip, Options{})
	if res.stats.ContinuityError != 1 || len(res.pes) != 9 {
		t.Fatalf("triplicate: %d PES, stats %+v", len(res.pes), res.stats)
	}
}

func splitPackets(b []byte) [][]byte {
	var out [][]byte
	for i := 0; i+PacketSize <= len(b); i += PacketSize {
		out = append(out, b[i:i+PacketSize])
	}
	return out
}

func joinPackets(pkts [][]byte) []byte { return bytes.Join(pkts, nil) }

func nthPUSI(pkts [][]byte, pid uint16, n int) int {
	for i, p := range pkts {
		h, _ := parseHeader(p)
		if h.pid == pid && h.pusi {
			if n == 0 {
				return i
			}
			n--
		}
	}
	panic("no such PES")
}

func TestDemuxScrambled(t *testing.T) {
	data := buildSimple(12, 300, 0, 0x0F, nil, func(i int, _ *tsBuilder, _ *int64, o *pktOpts) bool {
		if i >= 5 && i < 8 {
			o.tsc = 2
		}
		return true
	})
	res := demuxBytes(t, data, Options{})
	if len(res.pes) != 9 {
		t.Fatalf("%d PES, want 9", len(res.pes))
	}
	for _, p := range res.pes {
		if p.Data[0] >= 5 && p.Data[0] < 8 {
			t.Fatalf("scrambled PES %d delivered", p.Data[0])
		}
	}
	if p := res.pes[5]; !p.Discontinuity || p.Reasons != ReasonScrambled || p.Data[0] != 8 {
		t.Fatalf("PES after scrambling: reasons %v data[0] %d", p.Reasons, p.Data[0])
	}
	if s := res.stats; s.ScrambledAudioPackets != 6 || s.ScrambledPackets != 6 || s.ContinuityError != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestDemuxTransportError(t *testing.T) {
	pkts := splitPackets(buildSimple(10, 500, 0, 0x0F, nil, nil))
	k := nthPUSI(pkts, testAudioPID, 3) + 1
	bad := bytes.Clone(pkts[k])
	bad[1] |= 0x80
	pkts[k] = bad
	res := demuxBytes(t, joinPackets(pkts), Options{})
	if len(res.pes) != 9 || res.stats.TransportError != 1 || res.stats.ContinuityError != 1 || res.pes[3].Reasons != ReasonContinuity {
		t.Fatalf("%d PES, stats %+v", len(res.pes), res.stats)
	}
}

func TestDemuxMalformed(t *testing.T) {
	pkts := splitPackets(buildSimple(4, 100, 0, 0x0F, nil, nil))
	k := nthPUSI(pkts, testAudioPID, 2)
	bad := bytes.Clone(pkts[k])
	bad[3] |= 0x20
	bad[4] = 200
	pkts[k] = bad
	res := demuxBytes(t, joinPackets(pkts), Options{})
	if len(res.pes) != 3 || res.stats.MalformedPackets != 1 || res.pes[2].Reasons != ReasonContinuity {
		t.Fatalf("%d PES, stats %+v", len(res.pes), res.stats)
	}
}

func TestDemuxDiscontinuityIndicator(t *testing.T) {
	data := buildSimple(10, 100, 0, 0x0F, nil, func(i int, _ *tsBuilder, pts *int64, o *pktOpts) bool {
		if i >= 6 {
			*pts += 50 * 90000 // new time base
			o.pcr += 50 * 90000
		}
		o.disc = i == 6
		return true
	})
	res := demuxBytes(t, data, Options{})
	if len(res.pes) != 10 {
		t.Fatalf("%d PES", len(res.pes))
	}
	if p := res.pes[6]; p.Reasons != ReasonIndicator|ReasonPTSJump {
		t.Fatalf("reasons = %v", p.Reasons)
	}
	if s := res.stats; s.PCRDiscontinuityError != 0 || s.PTSError != 0 || s.ContinuityError != 0 || s.Discontinuities != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestDemuxPTSJump(t *testing.T) {
	data := buildSimple(12, 100, 0, 0x0F, nil, func(i int, _ *tsBuilder, pts *int64, o *pktOpts) bool {
		switch {
		case i == 3:
			*pts -= 18000 // 0.2 s of backward jitter: not a discontinuity
		case i >= 8:
			*pts += 5 * 90000
			o.pcr += 5 * 90000
		}
		return true
	})
	res := demuxBytes(t, data, Options{})
	var reasons []Reason
	for _, p := range res.pes {
		reasons = append(reasons, p.Reasons)
	}
	for i, r := range reasons {
		want := Reason(0)
		if i == 8 {
			want = ReasonPTSJump
		}
		if r != want {
			t.Fatalf("reasons = %v", reasons)
		}
	}
	if s := res.stats; s.PTSError != 1 || s.PCRDiscontinuityError != 1 {
		t.Fatalf("stats = %+v", s)
	}
	// A smaller threshold turns the jitter into a jump.
	res = demuxBytes(t, data, Options{PTSJump: 100_000_000})
	if res.pes[3].Reasons != ReasonPTSJump {
		t.Fatalf("reasons = %v", res.pes[3].Reasons)
	}
}

func TestDemuxPTSWrap(t *testing.T) {
	pts0 := int64(1<<33) - 10*9000 - 4500
	res := demuxBytes(t, buildSimple(20, 100, pts0, 0x0F, nil, nil), Options{})
	if len(res.pes) != 20 {
		t.Fatalf("%d PES", len(res.pes))
	}
	for i, p := range res.pes {
		if p.PTS != pts0+int64(i)*9000 || p.Discontinuity {
			t.Fatalf("PES %d: PTS %d, want %d (reasons %v)", i, p.PTS, pts0+int64(i)*9000, p.Reasons)
		}
	}
	if s := res.stats; s.PTSWraps != 1 || s.PCRDiscontinuityError != 0 || s.PTSError != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestDemuxPMTChange(t *testing.T) {
	b := newTSBuilder()
	for i := range 30 {
		switch {
		case i < 10 && i%5 == 0:
			b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
			b.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F, desc: langDesc("eng", 0)}))
		case i >= 10 && i < 20 && i%5 == 0: // new audio PID and codec
			b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
			b.section(0x1000, pmtSection(1, 1, 0x200, testES{pid: 0x200, st: 0x03, desc: langDesc("eng", 0)}))
		case i >= 20 && i%5 == 0: // new program on a new PMT PID
			b.section(pidPAT, patSection(1, [2]uint16{2, 0x1100}))
			b.section(0x1100, pmtSection(2, 0, 0x300, testES{pid: 0x300, st: 0x81, desc: langDesc("eng", 0)}))
		}
		pid := []uint16{0x100, 0x200, 0x300}[i/10]
		b.pes(pid, 0xC0, int64(i)*9000, []byte{byte(i)}, pktOpts{pcr: int64(i) * 9000}, false)
	}
	res := demuxBytes(t, b.bytes(), Options{})
	if len(res.errs) != 0 || len(res.pes) != 30 {
		t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
	}
	for i, p := range res.pes {
		want := []struct {
			prog, pid uint16
			codec     ingest.Codec
		}{{1, 0x100, ingest.CodecAACADTS}, {1, 0x200, ingest.CodecMP2}, {2, 0x300, ingest.CodecAC3}}[i/10]
		if p.Program != want.prog || p.PID != want.pid || p.Codec != want.codec || int(p.Data[0]) != i {
			t.Fatalf("PES %d = %+v", i, p)
		}
		if disc := i == 10 || i == 20; p.Discontinuity != disc || (disc && p.Reasons != ReasonStreamChange) {
			t.Fatalf("PES %d: discontinuity %v (%v)", i, p.Discontinuity, p.Reasons)
		}
	}
	if s := res.stats; s.StreamChanges != 2 || s.PATError != 0 || s.PMTError != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

// TestDemuxProgramChangeAfterProbe: a PAT that swaps the program for
// another, long after the start, is a stream change, not a loss of audio: the
// new program's PMT comes after the PAT, and the demuxer waits for it as it
// does at the start. If it never comes, ErrNoAudio is reported once the
// probe bound has passed again.
func TestDemuxProgramChangeAfterProbe(t *testing.T) {
	build := func(newPMT bool) []byte {
		b := newTSBuilder()
		for i := range 40 {
			switch {
			case i < 20 && i%5 == 0:
				b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
				b.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F}))
			case i >= 20 && i%5 == 0:
				b.section(pidPAT, patSection(1, [2]uint16{2, 0x1100}))
				// A PCR packet between the PAT and the PMT, as in a real mux.
				b.packet(0x300, false, pktOpts{pcr: int64(i) * 9000}, nil)
				if newPMT {
					b.section(0x1100, pmtSection(2, 0, 0x300, testES{pid: 0x300, st: 0x0F}))
				}
			}
			pid := uint16(0x100)
			if i >= 20 {
				pid = 0x300
			}
			b.pes(pid, 0xC0, int64(i)*9000, []byte{byte(i)}, pktOpts{pcr: int64(i) * 9000}, false)
		}
		return b.bytes()
	}
	// The change comes after 20 PES of 1 packet and 4 tables of 2: far
	// past a probe of 10 packets.
	res := demuxBytes(t, build(true), Options{ProbePackets: 10})
	if len(res.errs) != 0 || len(res.pes) != 40 {
		t.Fatalf("%d PES, reports %v", len(res.pes), res.errs)
	}
	for i, p := range res.pes {
		prog, pid := uint16(1), uint16(0x100)
		if i >= 20 {
			prog, pid = 2, 0x300
		}
		if p.Program != prog || p.PID != pid || int(p.Data[0]) != i || p.PTS != int64(i)*9000 {
			t.Fatalf("PES %d = %+v", i, p)
		}
		if disc := i == 20; p.Discontinuity != disc || (disc && p.Reasons != ReasonStreamChange) {
			t.Fatalf("PES %d: discontinuity %v (%v)", i, p.Discontinuity, p.Reasons)
		}
	}
	if s := res.stats; s.StreamChanges != 1 || s.PTSError != 0 || s.PATError != 0 {
		t.Fatalf("stats = %+v", s)
	}

	// Without the new PMT: one report, naming the program, after the probe.
	res = demuxBytes(t, build(false), Options{ProbePackets: 10})
	if len(res.pes) != 20 || len(res.errs) != 1 || !errors.Is(res.errs[0], ErrNoAudio) ||
		!strings.Contains(res.errs[0].Error(), "program 2") {
		t.Fatalf("no new PMT: %d PES, reports %v", len(res.pes), res.errs)
	}
}

// TestCRCErrorCounted also pins the go-astits error text isCRCError relies on.
func TestCRCErrorCounted(t *testing.T) {
	b := newTSBuilder()
	b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
	bad := pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F})
	bad[len(bad)-1] ^= 0xFF
	b.section(0x1000, bad)
	b.section(0x1000, bad)                         // an identical repetition is parsed, and counted, again
	b.pes(0x100, 0xC0, 0, []byte{1}, noPkt, false) // before any valid PMT: not delivered
	b.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F}))
	b.pes(0x100, 0xC0, 9000, []byte{2}, noPkt, false)
	res := demuxBytes(t, b.bytes(), Options{})
	if res.stats.CRCError != 2 || res.stats.PSIErrors != 0 || len(res.pes) != 1 || res.pes[0].Data[0] != 2 {
		t.Fatalf("%d PES, stats %+v", len(res.pes), res.stats)
	}
}

// TestDemuxTableTiming drops the PAT and PMT for 2 s of stream time and the
// audio PID for 3 s; PCR runs on its own PID every 100 ms throughout.
func TestDemuxTableTiming(t *testing.T) {
	const pcrPID = 0x101
	b := newTSBuilder()
	for i := range 80 { // 8 s, one step per 100 ms
		tables := i%5 == 0 && (i < 20 || i >= 40)
		if tables {
			b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
			b.section(0x1000, pmtSection(1, 0, pcrPID, testES{pid: pcrPID, st: 0x1B}, testES{pid: 0x100, st: 0x0F}))
		}
		b.packet(pcrPID, false, pktOpts{pcr: int64(i) * 9000}, nil)
		if i < 50 || i >= 80-20 {
			b.pes(0x100, 0xC0, int64(i)*9000, []byte{byte(i)}, noPkt, false)
		}
	}
	res := demuxBytes(t, b.bytes(), Options{})
	s := res.stats
	// The tables of step 15 arrive at stream time 1.4 s (the clock is the
	// PCR of the step before), the next at 3.9 s: errors at 2.0, 2.6, 3.2
	// and 3.8 s, once per 0.5 s without a table.
	if s.PATError != 4 || s.PMTError != 4 {
		t.Fatalf("PAT/PMT errors = %d/%d, want 4/4 (%+v)", s.PATError, s.PMTError, s)
	}
	// Audio last at 4.9 s, back at 6.0 s: the 1.1 s gap is under the 2 s
	// default.
	if s.PIDError != 0 {
		t.Fatalf("PID errors = %d", s.PIDError)
	}
	res = demuxBytes(t, b.bytes(), Options{PIDTimeout: 300 * time.Millisecond})
	if res.stats.PIDError != 2 {
		t.Fatalf("PID errors with a 0.3 s timeout = %d, want 2 (at 5.3 and 5.7 s)", res.stats.PIDError)
	}
	if res.stats.PTSError != 1 || res.stats.ContinuityError != 0 {
		t.Fatalf("stats = %+v", res.stats)
	}
}

func TestDemuxPESSize(t *testing.T) {
	b := newTSBuilder()
	b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
	b.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F}))
	b.pes(0x100, 0xC0, 0, audioFrame(0, 1000), noPkt, true)
	b.pes(0x100, 0xC0, 9000, audioFrame(1, 5000), noPkt, true) // too large
	b.pes(0x100, 0xC0, 18000, audioFrame(2, 1000), noPkt, true)
	b.pes(0x100, 0xC0, 27000, audioFrame(3, 1000), noPkt, true) // ends at EOF
	res := demuxBytes(t, b.bytes(), Options{MaxPESSize: 4000})
	if len(res.pes) != 3 || res.stats.PESTooLarge != 1 || res.stats.PESDropped != 1 {
		t.Fatalf("%d PES, stats %+v", len(res.pes), res.stats)
	}
	for i, n := range []int{0, 2, 3} {
		if !bytes.Equal(res.pes[i].Data, audioFrame(n, 1000)) {
			t.Fatalf("PES %d differs", i)
		}
	}
	if res.pes[1].Reasons != ReasonDropped {
		t.Fatalf("reasons = %v", res.pes[1].Reasons)
	}
}

func TestDemuxTruncated(t *testing.T) {
	data := buildSimple(5, 1000, 0, 0x0F, nil, nil)
	res := demuxBytes(t, data[:len(data)-PacketSize-50], Options{})
	if len(res.pes) != 4 || res.stats.PESDropped != 1 || res.stats.TailBytes != PacketSize-50 {
		t.Fatalf("%d PES, stats %+v", len(res.pes), res.stats)
	}
}

func TestDemuxCorruptPES(t *testing.T) {
	b := newTSBuilder()
	b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
	b.section(0x1000, pmtSection(1, 0, 0x100, testES{pid: 0x100, st: 0x0F}))
	b.pes(0x100, 0xC0, 0, []byte{0}, noPkt, false)
	b.packetize(0x100, noPkt, []byte{0, 0, 2, 0xC0, 0, 3, 1, 2, 3})                        // bad start code
	b.packetize(0x100, noPkt, []byte{0, 0, 1, 0xBE, 0, 3, 0xFF, 0xFF, 0xFF})               // padding: silently skipped
	b.packetize(0x100, noPkt, append([]byte{0, 0, 1, 0xBD, 0, 5, 0x80, 0, 0}, 0x0B, 0x77)) // no PTS: fine
	b.pes(0x100, 0xC0, 18000, []byte{3}, noPkt, false)
	res := demuxBytes(t, b.bytes(), Options{})
	if len(res.pes) != 3 || res.stats.PESErrors != 1 {
		t.Fatalf("%d PES, stats %+v", len(res.pes), res.stats)
	}
	if p := res.pes[1]; p.HasPTS || !bytes.Equal(p.Data, []byte{0x0B, 0x77}) || p.Reasons != ReasonDropped {
		t.Fatalf("PES without PTS = %+v", p)
	}
}

func TestDemuxOnPacket(t *testing.T) {
	data := buildSimple(10, 300, 0, 0x0F, nil, nil)
	dirty := append(append([]byte("garbage"), data[:5*PacketSize]...), append([]byte{1, 2, 3}, data[5*PacketSize:]...)...)
	var got []byte
	n := 0
	res := demuxBytes(t, dirty, Options{OnPacket: func(p []byte) {
		got = append(got, p...)
		n++
	}})
	if !bytes.Equal(got, data) || uint64(n) != res.stats.Packets || len(res.pes) != 10 {
		t.Fatalf("OnPacket saw %d packets (%d bytes); stats %+v", n, len(got), res.stats)
	}
}

func TestDemuxNotTS(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("RIFF....WAVEfmt "), bytes.Repeat([]byte{0x47, 0, 0, 0, 0, 0, 0}, 40000)} {
		res := demuxAll(t, bytes.NewReader(in), Options{})
		if !errors.Is(res.end, ErrNotTS) || len(res.pes) != 0 {
			t.Fatalf("end = %v, want ErrNotTS", res.end)
		}
	}
}

func TestNewInvalid(t *testing.T) {
	cases := []struct {
		r    io.Reader
		opts Options
	}{
		{nil, Options{}},
		{bytes.NewReader(nil), Options{Language: "xx"}},
		{bytes.NewReader(nil), Options{MaxPESSize: -1}},
		{bytes.NewReader(nil), Options{PTSJump: -1}},
		{bytes.NewReader(nil), Options{PIDTimeout: 100 * 365 * 24 * 3600 * 1e9}},
	}
	for _, c := range cases {
		if _, err := New(c.r, c.opts); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("New(%+v) err = %v, want ErrInvalidOption", c.opts, err)
		}
	}
}

func TestDemuxContext(t *testing.T) {
	d, err := New(bytes.NewReader(buildSimple(3, 10, 0, 0x0F, nil, nil)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if p, err := d.Next(context.Background()); err != nil || p.Data[0] != 0 {
		t.Fatalf("after a cancelled call: %v, %v", p, err)
	}
}

// TestStatsConcurrent reads Stats while Next runs (run with -race).
func TestStatsConcurrent(t *testing.T) {
	d, err := New(bytes.NewReader(buildSimple(200, 1000, 0, 0x0F, nil, nil)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = d.Stats()
			}
		}
	}()
	n := 0
	for {
		_, err := d.Next(context.Background())
		if err != nil {
			break
		}
		n++
	}
	close(stop)
	wg.Wait()
	if s := d.Stats(); s.PESDelivered != uint64(n) || n != 200 {
		t.Fatalf("%d PES, stats %+v", n, s)
	}
}
