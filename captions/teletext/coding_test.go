package teletext

import (
	"math/bits"
	"testing"
)

func TestHamming84(t *testing.T) {
	for n := 0; n < 16; n++ {
		c := hamming84(n)
		if got := unham84[c]; int(got) != n {
			t.Fatalf("unham(ham(%d)) = %d", n, got)
		}
		for b := 0; b < 8; b++ {
			if got := unham84[c^1<<b]; int(got) != n {
				t.Errorf("nibble %d with bit %d flipped decodes to %d", n, b, got)
			}
			for b2 := b + 1; b2 < 8; b2++ {
				if got := unham84[c^1<<b^1<<b2]; got != -1 {
					t.Errorf("nibble %d with bits %d,%d flipped decodes to %d, want failure", n, b, b2, got)
				}
			}
		}
	}
}

func TestHamming2418(t *testing.T) {
	if got := hamming2418(0); got != [3]byte{0x8B, 0x80, 0x00} {
		t.Fatalf("hamming2418(0) = % X, want 8B 80 00", got)
	}
	for d := uint32(0); d < 1<<18; d++ {
		b := hamming2418(d)
		w := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		if bits.OnesCount32(w)%2 != 1 {
			t.Fatalf("%#x: word %#x has even parity", d, w)
		}
		got, ok := unhamming2418(b)
		if !ok || got != d {
			t.Fatalf("round trip %#x: got %#x ok=%v", d, got, ok)
		}
		if d%997 != 0 {
			continue
		}
		for i := 0; i < 24; i++ {
			e := w ^ 1<<i
			got, ok := unhamming2418([3]byte{byte(e), byte(e >> 8), byte(e >> 16)})
			if !ok || got != d {
				t.Fatalf("%#x with bit %d flipped: got %#x ok=%v", d, i, got, ok)
			}
			for j := i + 1; j < 24; j++ {
				e2 := e ^ 1<<j
				if _, ok := unhamming2418([3]byte{byte(e2), byte(e2 >> 8), byte(e2 >> 16)}); ok {
					t.Fatalf("%#x with bits %d,%d flipped was accepted", d, i, j)
				}
			}
		}
	}
}

func TestOddParity(t *testing.T) {
	for c := 0; c < 128; c++ {
		p := oddParity[c]
		if p&0x7F != byte(c) || !parityOK(p) {
			t.Fatalf("oddParity[%#x] = %#x", c, p)
		}
	}
	if oddParity[' '] != 0x20 || oddParity['H'] != 0xC8 {
		t.Fatalf("space → %#x, H → %#x", oddParity[' '], oddParity['H'])
	}
}
