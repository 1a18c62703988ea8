package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// opusPacket is one Opus packet and its duration.
type opusPacket struct {
	data []byte
	dur  time.Duration
}

// pageCapture records the bytes oggreader reads, so that the page's segment
// table (which oggreader does not expose) can split a page into packets.
type pageCapture struct {
	r   io.Reader
	buf []byte
}

func (c *pageCapture) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// readOggOpus returns the Opus packets of an Ogg Opus stream, in order.
func readOggOpus(data []byte) ([]opusPacket, error) {
	pc := &pageCapture{r: bytes.NewReader(data)}
	rd, head, err := oggreader.NewWith(pc)
	if err != nil {
		return nil, fmt.Errorf("ogg: %w", err)
	}
	if head.Channels == 0 {
		return nil, errors.New("ogg: OpusHead with 0 channels")
	}
	var out []opusPacket
	var carry []byte
	for page := 0; ; page++ {
		pc.buf = pc.buf[:0]
		payload, _, err := rd.ParseNextPage()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ogg page %d: %w", page, err)
		}
		if len(pc.buf) < 27 || len(pc.buf) < 27+int(pc.buf[26]) {
			return nil, fmt.Errorf("ogg page %d: short header capture", page)
		}
		lacing := pc.buf[27 : 27+int(pc.buf[26])]
		off := 0
		for _, l := range lacing {
			if off+int(l) > len(payload) {
				return nil, fmt.Errorf("ogg page %d: segment table exceeds payload", page)
			}
			carry = append(carry, payload[off:off+int(l)]...)
			off += int(l)
			if l < 255 {
				if len(carry) > 0 && !bytes.HasPrefix(carry, []byte("OpusTags")) {
					d := opusDuration(carry)
					if d <= 0 {
						return nil, fmt.Errorf("ogg page %d: bad Opus packet", page)
					}
					out = append(out, opusPacket{data: carry, dur: d})
				}
				carry = nil
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("ogg: no Opus packets")
	}
	return out, nil
}

// opusDuration reads an Opus packet's duration from its TOC (RFC 6716 §3.1).
func opusDuration(p []byte) time.Duration {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	config := toc >> 3
	var frame time.Duration
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []time.Duration{10, 20, 40, 60}[config%4] * time.Millisecond
	case config < 16: // hybrid: 10, 20 ms
		frame = []time.Duration{10, 20}[config%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []time.Duration{2500, 5000, 10000, 20000}[config%4] * time.Microsecond
	}
	frames := 1
	switch toc & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 {
			return 0
		}
		frames = int(p[1] & 0x3f)
	}
	return time.Duration(frames) * frame
}

// makeOgg generates the default test input with ffmpeg: 10 s of a 440 Hz
// sine as 32 kb/s Opus.
func makeOgg(dir string) (string, error) {
	out := filepath.Join(dir, "out.ogg")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
		"-c:a", "libopus", "-b:a", "32k", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg (needed to generate the Ogg input; or pass -ogg): %w\n%s", err, b)
	}
	return out, nil
}

func loadPackets(path string) ([]opusPacket, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return readOggOpus(data)
}
