package mpegts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/subtitled/subtitled/tools/testenv"

	"github.com/subtitled/subtitled/ingest"
)

var fixtures = testenv.NewFixtures("mpegts-test-")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { fixtures.Cleanup() }))
}

// Inputs: 160x120 test pattern and a 48 kHz tone.
var (
	videoIn = []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25"}
	toneIn  = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	h264    = []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "25"}
)

func args(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// fixture makes (once per run) the file name with ffmpeg and returns its path.
func fixture(t testing.TB, name string, ffArgs ...string) string {
	t.Helper()
	return fixtures.FFmpeg(t, name, ffArgs...)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ffmpegES extracts the elementary stream of audio track a:n with ffmpeg's
// own demuxer: the reference for the PES payloads.
func ffmpegES(t testing.TB, ts string, n int) []byte {
	t.Helper()
	out := ts + fmt.Sprintf(".a%d.es", n)
	cmd := exec.Command(testenv.Tool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", ts,
		"-map", fmt.Sprintf("0:a:%d", n), "-c", "copy", "-f", "data", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg extract: %v\n%s", err, b)
	}
	return readFile(t, out)
}

// ffprobeFirstPTS returns the PTS of the first packet of audio track a:0.
func ffprobeFirstPTS(t testing.TB, ts string) int64 {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "ffprobe"), "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts",
		"-of", "csv=p=0", "-read_intervals", "%+#1", ts)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	v, err := strconv.ParseInt(strings.Trim(strings.SplitN(string(b), "\n", 2)[0], " ,"), 10, 64)
	if err != nil {
		t.Fatalf("ffprobe output %q: %v", b, err)
	}
	return v
}

func concatData(pes []PES) []byte {
	var b []byte
	for _, p := range pes {
		b = append(b, p.Data...)
	}
	return b
}

func checkMonotonic(t testing.TB, pes []PES) {
	t.Helper()
	for i := 1; i < len(pes); i++ {
		if !pes[i].HasPTS || pes[i].PTS <= pes[i-1].PTS {
			t.Fatalf("PES %d: PTS %d after %d", i, pes[i].PTS, pes[i-1].PTS)
		}
	}
}

// checkClean asserts that no health counter fired.
func checkClean(t testing.TB, s Stats) {
	t.Helper()
	if s.SyncLoss+s.SyncByteError+s.PATError+s.ContinuityError+s.PMTError+s.PIDError+s.TransportError+
		s.CRCError+s.PCRDiscontinuityError+s.PTSError+s.ScrambledPackets+s.MalformedPackets+s.PSIErrors+
		s.ParserPanics+s.PESDropped+s.PESErrors+s.PESTooLarge+s.Discontinuities+s.BytesSkipped+s.TailBytes != 0 {
		t.Fatalf("health counters fired on a clean stream: %+v", s)
	}
}

var casesFFmpegCodec = []struct {
	name  string
	args  []string
	st    uint8
	codec ingest.Codec
	sync  func([]byte) bool // the codec's frame sync at the start of a PES
	opus  bool              // compare after SplitOpus (ffmpeg strips the control headers)
}{
	{"aac", []string{"-c:a", "aac"}, 0x0F, ingest.CodecAACADTS, func(b []byte) bool { return b[0] == 0xFF && b[1]&0xF6 == 0xF0 }, false},
	{"latm", []string{"-c:a", "aac", "-mpegts_flags", "latm"}, 0x11, ingest.CodecAACLATM, func(b []byte) bool { return b[0] == 0x56 && b[1]&0xE0 == 0xE0 }, false},
	{"mp2", []string{"-c:a", "mp2"}, 0x03, ingest.CodecMP2, func(b []byte) bool { return b[0] == 0xFF && b[1]&0xE0 == 0xE0 }, false},
	{"ac3", []string{"-c:a", "ac3"}, 0x81, ingest.CodecAC3, func(b []byte) bool { return b[0] == 0x0B && b[1] == 0x77 }, false},
	{"eac3", []string{"-c:a", "eac3"}, 0x87, ingest.CodecEAC3, func(b []byte) bool { return b[0] == 0x0B && b[1] == 0x77 }, false},
	{"ac3 dvb", []string{"-c:a", "ac3", "-mpegts_flags", "system_b"}, 0x06, ingest.CodecAC3, func(b []byte) bool { return b[0] == 0x0B && b[1] == 0x77 }, false},
	{"eac3 dvb", []string{"-c:a", "eac3", "-mpegts_flags", "system_b"}, 0x06, ingest.CodecEAC3, func(b []byte) bool { return b[0] == 0x0B && b[1] == 0x77 }, false},
	// opus_control_header starts with the 11 bits 0x3FF.
	{"opus", []string{"-c:a", "libopus"}, 0x06, ingest.CodecOpus, func(b []byte) bool { return b[0] == 0x7F && b[1]&0xE0 == 0xE0 }, true},
}

func TestFFmpegCodecs(t *testing.T) {
	for _, c := range casesFFmpegCodec {
		t.Run(c.name, func(t *testing.T) {
			name := "codec-" + strings.ReplaceAll(c.name, " ", "-") + ".ts"
			ts := fixture(t, name, args(videoIn, toneIn, []string{"-t", "3"}, h264, c.args, []string{"-ac", "2", "-f", "mpegts"})...)
			res := demuxBytes(t, readFile(t, ts), Options{})
			if len(res.errs) != 0 || len(res.pes) < 10 {
				t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
			}
			for i, p := range res.pes {
				if p.Codec != c.codec || p.StreamType != c.st || p.PID != 0x101 || p.Program != 1 || len(p.Data) < 2 || !c.sync(p.Data) {
					t.Fatalf("PES %d = %+v (data % x…)", i, p, p.Data[:min(8, len(p.Data))])
				}
			}
			checkMonotonic(t, res.pes)
			checkClean(t, res.stats)
			if first := ffprobeFirstPTS(t, ts); res.pes[0].PTS != first {
				t.Errorf("first PTS %d, ffprobe says %d", res.pes[0].PTS, first)
			}
			if span := res.pes[len(res.pes)-1].PTS - res.pes[0].PTS; span < 2*90000 || span > 3*90000 {
				t.Errorf("PTS span %d ticks for a 3 s file", span)
			}
			got := concatData(res.pes)
			if c.opus {
				got = nil
				for _, p := range res.pes {
					pkts, err := SplitOpus(p.Data)
					if err != nil || len(pkts) == 0 {
						t.Fatalf("SplitOpus: %d packets, %v", len(pkts), err)
					}
					got = append(got, bytes.Join(pkts, nil)...)
				}
			}
			if want := ffmpegES(t, ts, 0); !bytes.Equal(got, want) {
				t.Fatalf("payloads (%d bytes) differ from ffmpeg's elementary stream (%d bytes)", len(got), len(want))
			}
		})
	}
}

func aacTS(t testing.TB) string {
	return fixture(t, "aac-5s.ts", args(videoIn, toneIn, []string{"-t", "5"}, h264, []string{"-c:a", "aac", "-ac", "2", "-f", "mpegts"})...)
}

func TestFFmpegLanguage(t *testing.T) {
	ts := fixture(t, "two-languages.ts", args(videoIn, toneIn,
		[]string{"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", "2", "-map", "0:v", "-map", "1:a", "-map", "2:a"},
		h264, []string{"-c:a:0", "aac", "-c:a:1", "mp2", "-metadata:s:a:0", "language=deu", "-metadata:s:a:1", "language=eng", "-f", "mpegts"})...)
	data := readFile(t, ts)
	cases := []struct {
		lang  string
		pid   uint16
		codec ingest.Codec
		want  string
		track int
	}{
		{"", 0x101, ingest.CodecAACADTS, "deu", 0},
		{"eng", 0x102, ingest.CodecMP2, "eng", 1},
		{"en", 0x102, ingest.CodecMP2, "eng", 1},
		{"deu", 0x101, ingest.CodecAACADTS, "deu", 0},
		{"ger", 0x101, ingest.CodecAACADTS, "deu", 0},
		{"de", 0x101, ingest.CodecAACADTS, "deu", 0},
		{"fra", 0x101, ingest.CodecAACADTS, "deu", 0},
	}
	for _, c := range cases {
		t.Run("lang="+c.lang, func(t *testing.T) {
			res := demuxBytes(t, data, Options{Language: c.lang})
			if len(res.errs) != 0 || len(res.pes) == 0 {
				t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
			}
			for _, p := range res.pes {
				if p.PID != c.pid || p.Codec != c.codec || p.Language != c.want {
					t.Fatalf("PES = %+v, want PID 0x%x %v %s", p, c.pid, c.codec, c.want)
				}
			}
			if !bytes.Equal(concatData(res.pes), ffmpegES(t, ts, c.track)) {
				t.Fatal("payloads differ from ffmpeg's elementary stream")
			}
		})
	}
}

// TestFFmpegPTSWrap shifts the timestamps so that the 33-bit PTS wraps in the
// middle of a 4 s file.
func TestFFmpegPTSWrap(t *testing.T) {
	// ffmpeg starts the mux at 1.4 s; 2^33 ticks are 95443.7178 s.
	ts := fixture(t, "wrap.ts", args(videoIn, toneIn, []string{"-t", "4"}, h264,
		[]string{"-c:a", "aac", "-ac", "2", "-output_ts_offset", "95440.3", "-f", "mpegts"})...)
	res := demuxBytes(t, readFile(t, ts), Options{})
	if len(res.errs) != 0 || len(res.pes) < 20 {
		t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
	}
	first, last := res.pes[0].PTS, res.pes[len(res.pes)-1].PTS
	if first >= ptsModulus || last <= ptsModulus {
		t.Fatalf("PTS %d … %d does not cross 2^33 = %d; adjust the offset", first, last, ptsModulus)
	}
	checkMonotonic(t, res.pes)
	if span := last - first; span < 3*90000 || span > 4*90000 {
		t.Fatalf("PTS span %d ticks for a 4 s file", span)
	}
	if res.stats.PTSWraps != 1 {
		t.Fatalf("PTSWraps = %d", res.stats.PTSWraps)
	}
	checkClean(t, res.stats)
	if !bytes.Equal(concatData(res.pes), ffmpegES(t, ts, 0)) {
		t.Fatal("payloads differ from ffmpeg's elementary stream")
	}
}

func TestFFmpegGarbage(t *testing.T) {
	clean := readFile(t, aacTS(t))
	ref := demuxBytes(t, clean, Options{})
	r := rand.New(rand.NewPCG(5, 6))
	var dirty []byte
	insertions, total := 0, 0
	for i := 0; i < len(clean); i += PacketSize {
		dirty = append(dirty, clean[i:i+PacketSize]...)
		if r.UintN(300) == 0 {
			g := []byte{0xDE, 0xAD, 0xBE, 0xEF, 0x00}
			if insertions%2 == 1 {
				g = garbage(r, 50+int(r.UintN(2000)))
				g[0] = 0
			}
			dirty = append(dirty, g...)
			insertions++
			total += len(g)
		}
	}
	if insertions < 5 {
		t.Fatalf("only %d insertions", insertions)
	}
	res := demuxBytes(t, dirty, Options{})
	if !bytes.Equal(concatData(res.pes), concatData(ref.pes)) || len(res.pes) != len(ref.pes) {
		t.Fatalf("%d PES, want %d as from the clean file", len(res.pes), len(ref.pes))
	}
	s := res.stats
	if s.SyncLoss != uint64(insertions) || s.BytesSkipped != uint64(total) || s.ContinuityError != 0 || s.Discontinuities != 0 {
		t.Fatalf("%d insertions of %d bytes; stats %+v", insertions, total, s)
	}
}

func TestFFmpegCCError(t *testing.T) {
	clean := readFile(t, aacTS(t))
	ref := demuxBytes(t, clean, Options{})
	pkts := splitPackets(clean)
	// Drop a packet in the middle of the 10th audio PES (one that spans
	// more than one packet).
	k := -1
	for n := 10; k < 0; n++ {
		i := nthPUSI(pkts, 0x101, n)
		if h, _ := parseHeader(pkts[i+1]); h.pid == 0x101 && !h.pusi {
			k = i + 1
		}
	}
	res := demuxBytes(t, joinPackets(append(append([][]byte{}, pkts[:k]...), pkts[k+1:]...)), Options{})
	if len(res.pes) != len(ref.pes)-1 {
		t.Fatalf("%d PES, want %d", len(res.pes), len(ref.pes)-1)
	}
	var disc []int
	for i, p := range res.pes {
		if p.Discontinuity {
			disc = append(disc, i)
			if p.Reasons != ReasonContinuity {
				t.Fatalf("reasons %v", p.Reasons)
			}
		}
	}
	if len(disc) != 1 {
		t.Fatalf("discontinuities at %v", disc)
	}
	if s := res.stats; s.ContinuityError != 1 || s.PESDropped != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFFmpegPiped(t *testing.T) {
	ts := aacTS(t)
	ref := demuxBytes(t, readFile(t, ts), Options{})
	cmd := exec.Command(testenv.Tool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-readrate", "20", "-i", ts, "-c", "copy", "-f", "mpegts", "-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	res := demuxAll(t, out, Options{})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	if !errors.Is(res.end, io.EOF) || len(res.pes) != len(ref.pes) || !bytes.Equal(concatData(res.pes), concatData(ref.pes)) {
		t.Fatalf("piped: %d PES (end %v), file: %d PES", len(res.pes), res.end, len(ref.pes))
	}
}

func TestFFmpegNotTS(t *testing.T) {
	for _, f := range []struct{ name, format string }{{"tone.wav", "wav"}, {"tone.mp4", "mp4"}, {"tone.mp3", "mp3"}} {
		t.Run(f.name, func(t *testing.T) {
			path := fixture(t, f.name, args(toneIn, []string{"-t", "1", "-f", f.format})...)
			res := demuxAll(t, bytes.NewReader(readFile(t, path)), Options{})
			if !errors.Is(res.end, ErrNotTS) {
				t.Fatalf("end = %v, want ErrNotTS", res.end)
			}
		})
	}
}

func TestFFmpegVideoOnly(t *testing.T) {
	ts := fixture(t, "video-only.ts", args(videoIn, []string{"-t", "1"}, h264, []string{"-f", "mpegts"})...)
	res := demuxBytes(t, readFile(t, ts), Options{})
	if len(res.pes) != 0 || len(res.errs) != 1 || !errors.Is(res.errs[0], ErrNoAudio) {
		t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
	}
	if msg := res.errs[0].Error(); !strings.Contains(msg, "program 1") || !strings.Contains(msg, "0x0100 h264") {
		t.Fatalf("message %q", msg)
	}
}

func TestFFmpegUnsupported(t *testing.T) {
	ts := fixture(t, "dts.ts", args(toneIn, []string{"-t", "1", "-c:a", "dca", "-strict", "-2", "-ac", "2", "-f", "mpegts"})...)
	res := demuxBytes(t, readFile(t, ts), Options{})
	var se *StreamError
	if len(res.pes) != 0 || len(res.errs) != 1 || !errors.As(res.errs[0], &se) || !errors.Is(se, ErrUnsupportedCodec) ||
		se.PID != 0x100 || se.StreamType != 0x82 {
		t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
	}
	// With AAC beside it, the AAC stream is used, even when DTS is the
	// language asked for.
	ts = fixture(t, "dts-aac.ts", args(toneIn, []string{"-t", "1", "-map", "0:a", "-map", "0:a", "-c:a:0", "dca", "-strict", "-2",
		"-c:a:1", "aac", "-ac", "2", "-metadata:s:a:0", "language=eng", "-f", "mpegts"})...)
	res = demuxBytes(t, readFile(t, ts), Options{Language: "eng"})
	if len(res.errs) != 0 || len(res.pes) == 0 || res.pes[0].Codec != ingest.CodecAACADTS || res.pes[0].PID != 0x101 {
		t.Fatalf("%d PES, errors %v", len(res.pes), res.errs)
	}
}

// TestFFmpegPIDChange concatenates segments with different PIDs, programs,
// codecs and time bases (the pidchange fixture of RELIABILITY.md §3.1).
func TestFFmpegPIDChange(t *testing.T) {
	segA := fixture(t, "segA.ts", args(videoIn, toneIn, []string{"-t", "2"}, h264, []string{"-c:a", "aac", "-ac", "2", "-f", "mpegts"})...)
	segB := fixture(t, "segB.ts", args(videoIn, toneIn, []string{"-t", "2"}, h264, []string{"-c:a", "mp2", "-ac", "1", "-ar", "44100",
		"-mpegts_start_pid", "0x200", "-mpegts_pmt_start_pid", "0x1100", "-mpegts_service_id", "2", "-output_ts_offset", "3600", "-f", "mpegts"})...)
	a, b := readFile(t, segA), readFile(t, segB)
	resA, resB := demuxBytes(t, a, Options{}), demuxBytes(t, b, Options{})
	res := demuxBytes(t, bytes.Join([][]byte{a, b, a}, nil), Options{})
	if len(res.errs) != 0 {
		t.Fatalf("errors %v", res.errs)
	}
	type run struct {
		program, pid uint16
		codec        ingest.Codec
		n            int
	}
	var runs []run
	for i, p := range res.pes {
		if len(runs) == 0 || runs[len(runs)-1].pid != p.PID {
			if i > 0 && (!p.Discontinuity || p.Reasons&ReasonStreamChange == 0) {
				t.Fatalf("PES %d starts a new stream without a stream-change discontinuity (%v)", i, p.Reasons)
			}
			runs = append(runs, run{p.Program, p.PID, p.Codec, 0})
		}
		runs[len(runs)-1].n++
	}
	want := []run{{1, 0x101, ingest.CodecAACADTS, len(resA.pes)}, {2, 0x201, ingest.CodecMP2, len(resB.pes)}, {1, 0x101, ingest.CodecAACADTS, len(resA.pes)}}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	if res.stats.StreamChanges != 2 {
		t.Fatalf("stats %+v", res.stats)
	}
}
