package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subtitled/subtitled/ingest"
)

// Test fixtures are encoded with ffmpeg once per test binary into a shared
// temporary directory.
var (
	fixtureDir  string
	fixtureMu   sync.Mutex
	fixtureMemo = map[string]*stream{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "audio-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "audio tests:", err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Signal sources (ffmpeg lavfi graphs), all 48 kHz.
const (
	srcTone = "aevalsrc=0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t):s=48000:d=3"
	// Silence, then a 1 kHz tone from t = 1 s.
	srcOnset         = "aevalsrc=if(gte(t\\,1)\\,0.5*sin(2*PI*1000*t)\\,0)|if(gte(t\\,1)\\,0.5*sin(2*PI*1000*t)\\,0):s=48000:d=3"
	srcTone51        = "aevalsrc=0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t):c=5.1:s=48000:d=3"
	srcTone600Mono44 = "aevalsrc=0.5*sin(2*PI*600*t):s=44100:d=1.5"
	srcTone1kShort   = "aevalsrc=0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t):s=48000:d=1.5"
)

// codecSpec says how to encode a test stream for a codec.
type codecSpec struct {
	codec ingest.Codec
	args  []string // encoder and muxer arguments
	spf   int      // samples per access unit (framed codecs)
}

var specs = map[ingest.Codec]codecSpec{
	ingest.CodecAACADTS: {ingest.CodecAACADTS, []string{"-c:a", "aac", "-b:a", "128k", "-f", "adts"}, 1024},
	ingest.CodecAACLATM: {ingest.CodecAACLATM, []string{"-c:a", "aac", "-b:a", "128k", "-f", "latm"}, 1024},
	ingest.CodecMP2:     {ingest.CodecMP2, []string{"-c:a", "mp2", "-b:a", "192k", "-f", "mp2"}, 1152},
	ingest.CodecAC3:     {ingest.CodecAC3, []string{"-c:a", "ac3", "-b:a", "192k", "-f", "ac3"}, 1536},
	ingest.CodecEAC3:    {ingest.CodecEAC3, []string{"-c:a", "eac3", "-b:a", "192k", "-f", "eac3"}, 1536},
	ingest.CodecOpus:    {ingest.CodecOpus, []string{"-c:a", "libopus", "-b:a", "64k", "-f", "ogg"}, 0},
}

// accessUnit is one coded frame of a test stream.
type accessUnit struct {
	off, size int
	samples   int // decoded samples at rate
}

// stream is an encoded elementary stream and its access units.
type stream struct {
	path     string // the encoded file
	data     []byte // the elementary stream (Opus: packets back to back)
	aus      []accessUnit
	rate     int
	opusHead []byte // Opus only
}

func (s *stream) samples() int {
	n := 0
	for _, a := range s.aus {
		n += a.samples
	}
	return n
}

func (s *stream) au(i int) []byte { a := s.aus[i]; return s.data[a.off : a.off+a.size] }

// encode returns the stream for src encoded with spec; extra ffmpeg output
// arguments (like -ac 1) go before the codec arguments.
func encode(tb testing.TB, spec codecSpec, src string, extra ...string) *stream {
	tb.Helper()
	key := fmt.Sprint(spec.codec, src, extra)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if s, ok := fixtureMemo[key]; ok {
		return s
	}
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s is required to generate audio fixtures (apt-get install ffmpeg): %v", tool, err)
		}
	}
	path := filepath.Join(fixtureDir, fmt.Sprintf("f%d", len(fixtureMemo)))
	args := []string{"-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", src}
	args = append(args, extra...)
	args = append(args, spec.args...)
	args = append(args, path)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := &stream{}
	if spec.codec == ingest.CodecOpus {
		s = oggOpus(tb, data)
		s.path = path
	} else {
		s.path = path
		s.data = data
		s.rate = probeRate(tb, path)
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=size",
			"-of", "csv=p=0", path).Output()
		if err != nil {
			tb.Fatalf("ffprobe %s: %v", path, err)
		}
		off := 0
		for _, line := range strings.Fields(string(out)) {
			n, err := strconv.Atoi(strings.Trim(line, ","))
			if err != nil {
				tb.Fatalf("ffprobe packet size %q: %v", line, err)
			}
			s.aus = append(s.aus, accessUnit{off: off, size: n, samples: spec.spf})
			off += n
		}
		if off != len(data) {
			tb.Fatalf("ffprobe packets cover %d of %d bytes", off, len(data))
		}
	}
	fixtureMemo[key] = s
	return s
}

func probeRate(tb testing.TB, path string) int {
	tb.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a:0",
		"-show_entries", "stream=sample_rate", "-of", "csv=p=0", path).Output()
	if err != nil {
		tb.Fatalf("ffprobe %s: %v", path, err)
	}
	r, err := strconv.Atoi(strings.Trim(strings.TrimSpace(string(out)), ","))
	if err != nil {
		tb.Fatalf("ffprobe sample rate %q: %v", out, err)
	}
	return r
}

// oggOpus splits an Ogg Opus file into its packets: the OpusHead, then one
// access unit per audio packet (the OpusTags packet is skipped).
func oggOpus(tb testing.TB, data []byte) *stream {
	tb.Helper()
	var packets [][]byte
	var cur []byte
	for p := data; len(p) > 0; {
		if len(p) < 27 || !bytes.Equal(p[:4], []byte("OggS")) {
			tb.Fatalf("bad Ogg page at %d", len(data)-len(p))
		}
		nseg := int(p[26])
		lacing := p[27 : 27+nseg]
		body := p[27+nseg:]
		for _, l := range lacing {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				packets = append(packets, cur)
				cur = nil
			}
		}
		size := 27 + nseg
		for _, l := range lacing {
			size += int(l)
		}
		p = p[size:]
	}
	if len(packets) < 3 || !bytes.HasPrefix(packets[0], []byte("OpusHead")) {
		tb.Fatalf("no OpusHead in Ogg stream (%d packets)", len(packets))
	}
	s := &stream{rate: 48000, opusHead: packets[0]}
	for _, pkt := range packets[2:] {
		s.aus = append(s.aus, accessUnit{off: len(s.data), size: len(pkt), samples: opusSamples(tb, pkt)})
		s.data = append(s.data, pkt...)
	}
	return s
}

// opusSamples is the duration of an Opus packet at 48 kHz (RFC 6716 §3.1).
func opusSamples(tb testing.TB, pkt []byte) int {
	tb.Helper()
	if len(pkt) == 0 {
		tb.Fatal("empty Opus packet")
	}
	cfg := int(pkt[0] >> 3)
	var per int
	switch {
	case cfg < 12:
		per = []int{480, 960, 1920, 2880}[cfg%4]
	case cfg < 16:
		per = []int{480, 960}[cfg%2]
	default:
		per = []int{120, 240, 480, 960}[cfg%4]
	}
	switch pkt[0] & 3 {
	case 0:
		return per
	case 1, 2:
		return 2 * per
	}
	if len(pkt) < 2 {
		tb.Fatal("short Opus code-3 packet")
	}
	return per * int(pkt[1]&0x3f)
}

// feeder drives a Decoder with a stream cut into payloads.
type feeder struct {
	chunks []int // payload sizes, cycled (framed codecs)
	// pts maps access unit i and its exact PTS to the PTS handed over.
	pts func(i int, exact int64) int64
	// before is called before decoding the payload in which access unit
	// i is the first to start.
	before  func(i int)
	perAU   bool // one access unit per payload
	noFlush bool
}

var oddChunks = []int{1, 7, 188, 333, 1000, 4093, 17, 2500}

// auPTS is the exact PTS of access unit i of s anchored at base.
func (s *stream) auPTS(base int64, i int) int64 {
	n := int64(0)
	for _, a := range s.aus[:i] {
		n += int64(a.samples)
	}
	return base + n*ingest.PTSHz/int64(s.rate)
}

// run decodes s with d starting at PTS base and returns all Frames,
// including those of the final Flush.
func (f feeder) run(tb testing.TB, d *Decoder, s *stream, base int64) []ingest.Frame {
	tb.Helper()
	var frames []ingest.Frame
	wall := time.Unix(1700000000, 0)
	ptsOf := func(i int) int64 {
		p := s.auPTS(base, i)
		if f.pts != nil {
			p = f.pts(i, p)
		}
		return p
	}
	decode := func(payload []byte, pts int64, has bool) {
		out, err := d.Decode(payload, pts, has, wall)
		if err != nil {
			tb.Fatalf("Decode: %v", err)
		}
		frames = append(frames, out...)
	}
	if d.Codec() == ingest.CodecOpus || f.perAU {
		for i := range s.aus {
			if f.before != nil {
				f.before(i)
			}
			decode(s.au(i), ptsOf(i), true)
		}
	} else {
		chunks := f.chunks
		if len(chunks) == 0 {
			chunks = oddChunks
		}
		next := 0 // next access unit not yet started
		for off, k := 0, 0; off < len(s.data); k++ {
			end := min(off+chunks[k%len(chunks)], len(s.data))
			has, pts := false, int64(0)
			if next < len(s.aus) && s.aus[next].off < end {
				if f.before != nil {
					f.before(next)
				}
				has, pts = true, ptsOf(next)
				for next < len(s.aus) && s.aus[next].off < end {
					next++
				}
			}
			decode(s.data[off:end], pts, has)
			off = end
		}
	}
	if !f.noFlush {
		frames = append(frames, d.Flush()...)
	}
	return frames
}

func newDecoder(tb testing.TB, c ingest.Codec, opts Options) *Decoder {
	tb.Helper()
	d, err := NewDecoder(c, opts)
	if err != nil {
		tb.Fatalf("NewDecoder(%v): %v", c, err)
	}
	tb.Cleanup(d.Close)
	return d
}

// segment is a run of Frames between discontinuities.
type segment struct {
	anchor  int64
	samples []float32
	frames  int
}

// segments splits frames at Discontinuity flags and checks that within
// each segment every Frame's PTS follows exactly from the running count.
func segments(tb testing.TB, frames []ingest.Frame) []segment {
	tb.Helper()
	var segs []segment
	for i, fr := range frames {
		if len(fr.Samples) == 0 {
			tb.Fatalf("frame %d is empty", i)
		}
		if i == 0 || fr.Discontinuity {
			segs = append(segs, segment{anchor: fr.PTS})
		}
		s := &segs[len(segs)-1]
		if want := ingest.SamplePTS(s.anchor, int64(len(s.samples))); fr.PTS != want {
			tb.Fatalf("frame %d: PTS %d, want %d (anchor %d + %d samples)", i, fr.PTS, want, s.anchor, len(s.samples))
		}
		for j, v := range fr.Samples {
			if !(v >= -1 && v <= 1) {
				tb.Fatalf("frame %d sample %d = %v out of [-1,1]", i, j, v)
			}
		}
		s.samples = append(s.samples, fr.Samples...)
		s.frames++
	}
	return segs
}

// tonePower is the normalised Goertzel power of x at freq (16 kHz):
// about A²/4 for a sine of amplitude A.
func tonePower(x []float32, freq float64) float64 {
	w := 2 * math.Pi * freq / ingest.SampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	n := float64(len(x))
	return p / (n * n)
}

func rms(x []float32) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(x)))
}

// checkTone asserts that x is dominated by a tone at freq with rms near want.
func checkTone(tb testing.TB, x []float32, freq, wantRMS float64) {
	tb.Helper()
	p := tonePower(x, freq)
	for _, other := range []float64{freq / 2, freq * 1.5, freq * 3, 3500} {
		if q := tonePower(x, other); q*1000 > p {
			tb.Errorf("power at %.0f Hz (%.3g) not 30 dB above %.0f Hz (%.3g)", freq, p, other, q)
		}
	}
	if r := rms(x); math.Abs(r-wantRMS) > 0.1*wantRMS {
		tb.Errorf("rms %.4f, want %.4f ±10%%", r, wantRMS)
	}
}

// onset is the index of the first sample with |x| > level, or -1.
func onset(x []float32, level float32) int {
	for i, v := range x {
		if v > level || v < -level {
			return i
		}
	}
	return -1
}

// ffmpegDecode decodes a fixture with the ffmpeg CLI to 48 kHz mono float.
func ffmpegDecode(tb testing.TB, s *stream, format string) []float32 {
	tb.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", format, "-i", s.path,
		"-ac", "1", "-f", "f32le", "-").Output()
	if err != nil {
		tb.Fatalf("ffmpeg decode: %v", err)
	}
	x := make([]float32, len(out)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
	}
	return x
}
