package tsmux

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/captions/teletext"
	"github.com/subtitled/subtitled/tools/testenv"
)

// muxFile runs MuxCaptions over in and returns the output.
func muxFile(t testing.TB, in []byte, cues []captions.Cue, opts Options) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := MuxCaptions(bytes.NewReader(in), &out, cues, opts); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// checkPassThrough verifies that every input PID except the PMT PID comes
// out byte-identical, that only the PMT PID and the teletext PID were
// added or changed, and that no PID has a continuity error.
func checkPassThrough(t *testing.T, in, out []byte, pmtPID, ttxPID uint16) {
	t.Helper()
	ip, op := parseTS(t, in), parseTS(t, out)
	ib, ob := byPID(ip), byPID(op)
	for pid, pkts := range ib {
		if pid == pmtPID {
			continue
		}
		got := ob[pid]
		if len(got) != len(pkts) {
			t.Errorf("PID %#x: %d packets in, %d out", pid, len(pkts), len(got))
			continue
		}
		for i := range pkts {
			if !bytes.Equal(pkts[i], got[i]) {
				t.Errorf("PID %#x: packet %d differs", pid, i)
				break
			}
		}
	}
	for pid := range ob {
		if _, ok := ib[pid]; !ok && pid != ttxPID {
			t.Errorf("output has new PID %#x", pid)
		}
	}
	for pid, n := range ccErrors(op) {
		t.Errorf("PID %#x: %d continuity errors", pid, n)
	}
}

// ffmpegCCErrors counts ffmpeg's continuity complaints on out.
func ffmpegCCErrors(t *testing.T, path string) int {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "ffmpeg"), "-nostdin", "-v", "debug", "-i", path, "-map", "0", "-c", "copy", "-f", "null", "-")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return strings.Count(string(b), "Continuity check failed") + strings.Count(string(b), "Packet corrupt")
}

// ffprobeSubtitle returns ffprobe's line for the subtitle stream.
func ffprobeSubtitle(t *testing.T, path string) string {
	t.Helper()
	b, err := exec.Command(testenv.Tool(t, "ffprobe"), "-hide_banner", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, b)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "Subtitle:") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("ffprobe shows no subtitle stream:\n%s", b)
	return ""
}

func cueTexts(cues []captions.Cue) []string {
	var out []string
	for _, c := range cues {
		out = append(out, strings.Join(c.Lines, "\n"))
	}
	return out
}

// checkDecoded compares decoded cues to the expected ones: same text, and
// start and end times within tol milliseconds once origin (ms) is
// subtracted.
func checkDecoded(t *testing.T, what string, got []decodedCue, want []captions.Cue, origin, tol int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d cues, want %d: %+v", what, len(got), len(want), got)
	}
	for i, g := range got {
		w := want[i]
		if g.text != strings.Join(w.Lines, "\n") {
			t.Errorf("%s: cue %d text %q, want %q", what, i, g.text, strings.Join(w.Lines, "\n"))
		}
		if d := g.start - origin - w.Start/90; d < -tol || d > tol {
			t.Errorf("%s: cue %d starts at %d ms, want %d ms (±%d)", what, i, g.start-origin, w.Start/90, tol)
		}
		if d := g.end - origin - w.End/90; d < -tol || d > tol {
			t.Errorf("%s: cue %d ends at %d ms, want %d ms (±%d)", what, i, g.end-origin, w.End/90, tol)
		}
	}
}

func TestRoundTripOffline(t *testing.T) {
	cues := testCues(t)
	for i, s := range streams {
		langs := []string{"en"}
		if i == 0 {
			langs = []string{"en", "de", "fr"}
		}
		for _, lang := range langs {
			t.Run(fmt.Sprintf("%s/%s", s.name, lang), func(t *testing.T) {
				_, in := streamFixture(t, i)
				opts := Options{Teletext: ttxOptions(lang)}
				out := muxFile(t, in, cues, opts)
				path := writeTemp(t, "out.ts", out)
				pmtPID, ttxPID := programPIDs(t, out)
				checkPassThrough(t, in, out, pmtPID, ttxPID)
				if n := ffmpegCCErrors(t, path); n != 0 {
					t.Errorf("ffmpeg reports %d continuity errors", n)
				}
				sub := ffprobeSubtitle(t, path)
				if !strings.Contains(sub, "dvb_teletext") || !strings.Contains(sub, "("+iso(lang)+")") {
					t.Errorf("ffprobe: %s", sub)
				}
				// Cue times count from the input's start, which is what
				// ffprobe reports as start_time.
				origin := ffprobeStart(t, writeTemp(t, "in.ts", in))
				fix1 := ffmpegDecode(t, path, 1, "-copyts")
				fix0 := ffmpegDecode(t, path, 0, "-copyts")
				checkDecoded(t, "ffmpeg -fix_teletext_pts 1", fix1, cues, origin, 100)
				if !slices.Equal(fix0, fix1) {
					t.Errorf("-fix_teletext_pts 0 and 1 differ:\n%+v\n%+v", fix0, fix1)
				}
				if gst := gstCues(t, path); !slices.Equal(gst, cueTexts(cues)) {
					t.Errorf("GStreamer teletextdec:\n got %q\nwant %q", gst, cueTexts(cues))
				}
			})
		}
	}
}

func ttxOptions(lang string) teletext.Options {
	return teletext.Options{Language: lang}
}

func iso(lang string) string {
	switch lang {
	case "de":
		return "deu"
	case "fr":
		return "fra"
	}
	return "eng"
}

// programPIDs returns the PMT PID and the teletext PID of the output's
// first program.
func programPIDs(t *testing.T, out []byte) (pmtPID, ttxPID uint16) {
	t.Helper()
	pkts := parseTS(t, out)
	pats := sections(pkts, 0)
	if len(pats) == 0 {
		t.Fatal("no PAT")
	}
	progs, err := parsePAT(pats[0])
	if err != nil || len(progs) == 0 {
		t.Fatalf("PAT: %v", err)
	}
	pmtPID = progs[0].pid
	pmts := sections(pkts, pmtPID)
	if len(pmts) == 0 {
		t.Fatal("no PMT")
	}
	info, err := parsePMT(pmts[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range info.streams {
		if e.streamType == 0x06 {
			ttxPID = e.pid
		}
	}
	if ttxPID == 0 {
		t.Fatal("PMT has no teletext stream")
	}
	return pmtPID, ttxPID
}
