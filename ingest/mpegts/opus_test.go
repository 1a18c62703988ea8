package mpegts

import (
	"bytes"
	"errors"
	"testing"
)

// opusAU frames one Opus packet with a control header.
func opusAU(pkt []byte, startTrim, endTrim bool, ext []byte) []byte {
	flags := byte(0xE0)
	var tail []byte
	if startTrim {
		flags |= 0x10
		tail = append(tail, 0x00, 0x78)
	}
	if endTrim {
		flags |= 0x08
		tail = append(tail, 0x00, 0x10)
	}
	if ext != nil {
		flags |= 0x04
		tail = append(append(tail, byte(len(ext))), ext...)
	}
	b := []byte{0x7F, flags}
	n := len(pkt)
	for ; n >= 255; n -= 255 {
		b = append(b, 0xFF)
	}
	b = append(b, byte(n))
	return append(append(b, tail...), pkt...)
}

var casesSplitOpus = []struct {
	name    string
	in      []byte
	want    [][]byte
	wantErr bool
}{
	{"empty", nil, nil, false},
	{"one", opusAU([]byte{0xFC, 1, 2}, false, false, nil), [][]byte{{0xFC, 1, 2}}, false},
	{"trims and extension", opusAU([]byte{0xFC, 9}, true, true, []byte{7, 7}), [][]byte{{0xFC, 9}}, false},
	{"size 255", opusAU(bytes.Repeat([]byte{5}, 255), false, false, nil), [][]byte{bytes.Repeat([]byte{5}, 255)}, false},
	{"size 600", opusAU(bytes.Repeat([]byte{6}, 600), false, false, nil), [][]byte{bytes.Repeat([]byte{6}, 600)}, false},
	{"three", append(append(opusAU([]byte{1}, true, false, nil), opusAU(nil, false, false, nil)...), opusAU([]byte{3, 3}, false, true, nil)...),
		[][]byte{{1}, {}, {3, 3}}, false},
	{"no header", []byte{0x7F, 0x00, 1}, nil, true},
	{"size cut", []byte{0x7F, 0xE0, 0xFF}, nil, true},
	{"packet cut", append(opusAU([]byte{1, 2, 3}, false, false, nil), 0)[:5], nil, true},
	{"good then junk", append(opusAU([]byte{1}, false, false, nil), 0x00), [][]byte{{1}}, true},
	{"extension cut", []byte{0x7F, 0xE4, 0x00}, nil, true},
	{"trim cut", []byte{0x7F, 0xF0, 0x01, 0x00}, nil, true},
}

func TestSplitOpus(t *testing.T) {
	for _, c := range casesSplitOpus {
		t.Run(c.name, func(t *testing.T) {
			got, err := SplitOpus(c.in)
			if (err != nil) != c.wantErr || (err != nil && !errors.Is(err, ErrOpusFraming)) {
				t.Fatalf("err = %v", err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d packets, want %d", len(got), len(c.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], c.want[i]) {
					t.Fatalf("packet %d = %x, want %x", i, got[i], c.want[i])
				}
			}
		})
	}
}

func FuzzSplitOpus(f *testing.F) {
	for _, c := range casesSplitOpus {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := SplitOpus(data)
		if err != nil && !errors.Is(err, ErrOpusFraming) {
			t.Fatal(err)
		}
		total := 0
		for _, p := range pkts {
			total += len(p) + 3 // at least a 3-byte header each
		}
		if total > len(data) {
			t.Fatalf("%d packets with %d bytes from %d bytes", len(pkts), total, len(data))
		}
		if err == nil {
			// Reframing without trims gives a payload SplitOpus reads back.
			var re []byte
			for _, p := range pkts {
				re = append(re, opusAU(p, false, false, nil)...)
			}
			again, err := SplitOpus(re)
			if err != nil || len(again) != len(pkts) {
				t.Fatalf("round trip: %d packets, err %v", len(again), err)
			}
		}
	})
}
