package teletext

import "math/bits"

// Line coding of EN 300 706: Hamming 8/4 for addresses and control bits,
// Hamming 24/18 for the X/26 triplets, odd parity for text bytes. All of it
// is in "VBI order" (bit 0 is sent first); the data units of EN 300 472 carry
// each byte bit-reversed.

// ham84 maps a nibble to its Hamming 8/4 code byte (D1..D4 are bits 0..3 of
// the nibble).
var ham84 = [16]byte{
	0x15, 0x02, 0x49, 0x5E, 0x64, 0x73, 0x38, 0x2F,
	0xD0, 0xC7, 0x8C, 0x9B, 0xA1, 0xB6, 0xFD, 0xEA,
}

// unham84 maps a received byte to its nibble, or -1 when it holds two or
// more bit errors. Single-bit errors are corrected.
var unham84 [256]int8

// oddParity maps a 7-bit code to the byte sent for it: b7 set when needed to
// make the number of ones odd.
var oddParity [128]byte

func init() {
	for b := range unham84 {
		unham84[b] = -1
		for n, c := range ham84 {
			if bits.OnesCount8(byte(b)^c) <= 1 {
				unham84[b] = int8(n)
				break
			}
		}
	}
	for c := range oddParity {
		p := byte(c)
		if bits.OnesCount8(p)%2 == 0 {
			p |= 0x80
		}
		oddParity[c] = p
	}
}

// hamming84 returns the code byte of the low nibble of n.
func hamming84(n int) byte { return ham84[n&0xF] }

// parityOK reports whether b has odd parity.
func parityOK(b byte) bool { return bits.OnesCount8(b)%2 == 1 }

// Hamming 24/18: 24 transmitted bits, numbered 1..24 from bit 0 of the first
// byte. Parity bits sit at positions 1, 2, 4, 8 and 16; the 18 data bits
// D1..D18 fill the other positions up to 23 in order; bit 24 makes the whole
// word odd. Parity bit k gives odd parity over positions 1..23 whose index
// has bit k set.

// dataPos lists the positions (1-based) of D1..D18.
var dataPos = [18]uint{3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23}

// checkMask[k] holds the positions (as bits 0..23 for positions 1..24) that
// parity check k covers.
var checkMask [5]uint32

func init() {
	for k := range checkMask {
		for pos := uint(1); pos <= 23; pos++ {
			if pos&(1<<k) != 0 {
				checkMask[k] |= 1 << (pos - 1)
			}
		}
	}
}

// hamming2418 encodes the low 18 bits of d into three bytes.
func hamming2418(d uint32) [3]byte {
	var w uint32
	for i, pos := range dataPos {
		if d&(1<<i) != 0 {
			w |= 1 << (pos - 1)
		}
	}
	for k := range checkMask {
		if bits.OnesCount32(w&checkMask[k])%2 == 0 {
			w |= 1 << ((1 << k) - 1)
		}
	}
	if bits.OnesCount32(w)%2 == 0 {
		w |= 1 << 23
	}
	return [3]byte{byte(w), byte(w >> 8), byte(w >> 16)}
}

// unhamming2418 decodes three bytes to 18 data bits, correcting one bit
// error. ok is false for two or more errors.
func unhamming2418(b [3]byte) (d uint32, ok bool) {
	w := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	syndrome := uint(0)
	for k := range checkMask {
		if bits.OnesCount32(w&checkMask[k])%2 == 0 {
			syndrome |= 1 << k
		}
	}
	whole := bits.OnesCount32(w)%2 == 1
	switch {
	case syndrome == 0 && whole:
	case !whole:
		// One error: at the syndrome's position, or in bit 24 itself.
		if syndrome > 23 {
			return 0, false
		}
		if syndrome != 0 {
			w ^= 1 << (syndrome - 1)
		}
	default:
		return 0, false
	}
	for i, pos := range dataPos {
		if w&(1<<(pos-1)) != 0 {
			d |= 1 << i
		}
	}
	return d, true
}
