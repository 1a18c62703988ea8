package mpegts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

func ExampleDemuxer() {
	ts := buildSimple(3, 100, 90000, 0x0F, langDesc("eng", 0), nil) // a stand-in for a file or socket
	d, err := New(bytes.NewReader(ts), Options{Language: "en"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		p, err := d.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrNoAudio) || errors.Is(err, ErrUnsupportedCodec) || errors.Is(err, ErrProgramNotFound) {
			fmt.Println("report:", err) // the demuxer keeps going
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s PID 0x%x %s PTS %d, %d bytes, discontinuity %v\n", p.Codec, p.PID, p.Language, p.PTS, len(p.Data), p.Discontinuity)
	}
	s := d.Stats()
	fmt.Println("packets", s.Packets, "CC errors", s.ContinuityError)
	// Output:
	// aac PID 0x100 eng PTS 90000, 100 bytes, discontinuity false
	// aac PID 0x100 eng PTS 99000, 100 bytes, discontinuity false
	// aac PID 0x100 eng PTS 108000, 100 bytes, discontinuity false
	// packets 5 CC errors 0
}
