package tsmux

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/subtitled/subtitled/tools/testenv"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/format"
)

var fixtures = testenv.NewFixtures("tsmux-test-")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { fixtures.Cleanup() }))
}

// Test inputs: 10 s of a 160x120 test pattern at 25 fps and a tone.
var (
	videoIn = []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10"}
	toneIn  = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10"}
	h264    = []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "25"}
)

// streams are the ffmpeg-made inputs of the round-trip tests.
var streams = []struct {
	name string
	args []string
}{
	{"h264_aac.ts", join(videoIn, h264, []string{"-c:a", "aac", "-b:a", "64k", "-f", "mpegts"})},
	{"h264_mp2.ts", join(videoIn, h264, []string{"-bf", "2", "-c:a", "mp2", "-f", "mpegts"})},
	{"audio_only.ts", join(toneIn, []string{"-c:a", "mp2", "-f", "mpegts"})},
}

func join(parts ...[]string) []string {
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

func streamFixture(t testing.TB, i int) (string, []byte) {
	t.Helper()
	p := fixture(t, streams[i].name, streams[i].args...)
	return p, readFile(t, p)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testCues reads testdata/cues.srt.
func testCues(t testing.TB) []captions.Cue {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cues.srt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := format.ParseSRT(f)
	if err != nil {
		t.Fatal(err)
	}
	return file.Captions()
}

// decodedCue is a cue as a decoder reports it, in milliseconds.
type decodedCue struct {
	start, end int64
	text       string
}

// unescapeSRT undoes ffmpeg's escaping of \ { } in SRT text.
func unescapeSRT(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\{`, "{", `\}`, "}").Replace(s)
}

// ffmpegDecode decodes page 888 of ts to cues with ffmpeg (libzvbi).
func ffmpegDecode(t testing.TB, ts string, fixPTS int, extra ...string) []decodedCue {
	t.Helper()
	srt := testenv.DecodeTeletext(t, ts, "888", append([]string{"-fix_teletext_pts", fmt.Sprint(fixPTS)}, extra...)...)
	file, err := format.ParseSRT(bytes.NewReader(srt))
	if err != nil {
		t.Fatal(err)
	}
	var cues []decodedCue
	for _, c := range file.Cues {
		txt := unescapeSRT(strings.TrimSpace(c.Text()))
		if txt == "" {
			continue
		}
		cues = append(cues, decodedCue{start: c.Start / 90, end: c.End / 90, text: txt})
	}
	return cues
}

// ffprobeStart returns the input's start time (format start_time) in ms.
func ffprobeStart(t testing.TB, ts string) int64 {
	t.Helper()
	b, err := exec.Command(testenv.Tool(t, "ffprobe"), "-v", "error", "-show_entries", "format=start_time",
		"-of", "csv=p=0", ts).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		t.Fatalf("ffprobe start_time %q: %v", b, err)
	}
	return int64(math.Round(v * 1000))
}

// gstCues decodes page 888 with GStreamer's teletextdec (subtitles mode)
// and returns the text of each non-empty page.
func gstCues(t testing.TB, ts string) []string {
	t.Helper()
	var out []string
	for _, buf := range strings.Split(gstDecode(t, ts), "\x00") {
		// The default subtitles-template is "%s\\n": a literal backslash-n
		// after each line.
		s := strings.TrimSpace(strings.ReplaceAll(buf, `\n`, "\n"))
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// gstDecode decodes page 888 with GStreamer's teletextdec and returns the
// text it wrote.
func gstDecode(t testing.TB, ts string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ttx.txt")
	cmd := exec.Command(testenv.Tool(t, "gst-launch-1.0"), "-q", "filesrc", "location="+ts, "!", "tsdemux", "!", "queue", "!",
		"application/x-teletext", "!", "teletextdec", "page=888", "subtitles-mode=true", "!",
		"text/x-raw,format=utf-8", "!", "filesink", "location="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gst-launch: %v\n%s", err, b)
	}
	return string(readFile(t, out))
}

// tsPacket is a parsed packet of a test stream.
type tsPacket struct {
	raw    []byte
	pid    uint16
	pusi   bool
	cc     uint8
	afc    uint8
	pcr    int64 // 27 MHz, -1 if none
	offset int   // index in the stream
}

func parseTS(t testing.TB, b []byte) []tsPacket {
	t.Helper()
	if len(b)%tsSize != 0 {
		t.Fatalf("stream of %d bytes is not whole packets", len(b))
	}
	out := make([]tsPacket, 0, len(b)/tsSize)
	for o := 0; o < len(b); o += tsSize {
		p := b[o : o+tsSize]
		if p[0] != 0x47 {
			t.Fatalf("no sync byte at %d", o)
		}
		tp := tsPacket{raw: p, pid: uint16(p[1]&0x1F)<<8 | uint16(p[2]), pusi: p[1]&0x40 != 0, cc: p[3] & 0xF,
			afc: p[3] >> 4 & 3, pcr: -1, offset: o / tsSize}
		if tp.afc&2 != 0 && p[4] >= 7 && p[5]&0x10 != 0 {
			tp.pcr = (int64(p[6])<<25|int64(p[7])<<17|int64(p[8])<<9|int64(p[9])<<1|int64(p[10]>>7))*300 +
				(int64(p[10]&1)<<8 | int64(p[11]))
		}
		out = append(out, tp)
	}
	return out
}

// byPID groups the raw packets of a stream per PID.
func byPID(pkts []tsPacket) map[uint16][][]byte {
	m := map[uint16][][]byte{}
	for _, p := range pkts {
		m[p.pid] = append(m[p.pid], p.raw)
	}
	return m
}

// ccErrors counts continuity counter errors per PID (AF-only packets keep
// the counter; one duplicate is allowed).
func ccErrors(pkts []tsPacket) map[uint16]int {
	last := map[uint16]int{}
	errs := map[uint16]int{}
	for _, p := range pkts {
		if p.pid == nullPID {
			continue
		}
		l, seen := last[p.pid]
		if p.afc&1 == 0 {
			if seen && int(p.cc) != l {
				errs[p.pid]++
			}
			continue
		}
		if seen && int(p.cc) != (l+1)&0xF && int(p.cc) != l {
			errs[p.pid]++
		}
		last[p.pid] = int(p.cc)
	}
	return errs
}

// sections reassembles the sections of one PID.
func sections(pkts []tsPacket, pid uint16) [][]byte {
	a := newSectionAssembler()
	var out [][]byte
	for _, p := range pkts {
		if p.pid != pid {
			continue
		}
		payload, pusi, cc, ok := payloadOf(p.raw)
		if !ok {
			continue
		}
		a.push(payload, pusi, cc, func(s []byte) { out = append(out, bytes.Clone(s)) })
	}
	return out
}

// ttxPES reassembles the PES packets of one PID, with the index of the
// packet that started each.
func ttxPES(pkts []tsPacket, pid uint16) (pes [][]byte, at []int) {
	for i, p := range pkts {
		if p.pid != pid {
			continue
		}
		payload, pusi, _, ok := payloadOf(p.raw)
		if !ok {
			continue
		}
		if pusi {
			pes = append(pes, nil)
			at = append(at, i)
		}
		if len(pes) > 0 {
			pes[len(pes)-1] = append(pes[len(pes)-1], payload...)
		}
	}
	return pes, at
}
