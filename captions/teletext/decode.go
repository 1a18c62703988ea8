package teletext

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Decoding errors. Decode wraps one of them.
var (
	// ErrNotTeletext: the bytes are not a private_stream_1 PES with an EBU
	// data_identifier.
	ErrNotTeletext = errors.New("teletext: not a teletext PES")
	// ErrTruncated: the PES or a data unit ends early. Decode still returns
	// what it read before.
	ErrTruncated = errors.New("teletext: truncated PES")
)

// DecodedPES is the content of one teletext PES packet.
type DecodedPES struct {
	// PTS is the presentation time stamp, or -1 when the PES has none.
	PTS int64
	// DataIdentifier is the PES payload's first byte (0x10–0x1F).
	DataIdentifier byte
	// Pages holds one entry per page header, in order. Rows and X/26
	// packets belong to the last header of their magazine (parallel mode).
	Pages []Page
	// Units counts the teletext data units (0x02 and 0x03) read.
	Units int
	// Errors counts data units, packets and triplets dropped for a bad
	// framing code or uncorrectable Hamming errors.
	Errors int
}

// Triplet is one X/26 enhancement triplet.
type Triplet struct {
	Address, Mode, Data uint8
}

// Page is one page transmission: its header and the rows and enhancement
// packets that followed it.
type Page struct {
	Magazine int  // 1..8
	Number   byte // page number tens<<4 | units (hex digits, 0xFF for a time-filling header)
	Subcode  uint16
	// Control bits C4–C11.
	Erase, Newsflash, Subtitle, SuppressHeader, Update, Interrupted, InhibitDisplay, Serial bool
	// Subset is the national option (C12–C14).
	Subset Subset
	// Rows holds the 7-bit codes of the display rows 1–24 (index 0 holds
	// the header's 32 display bytes in columns 8–39). Bytes with a parity
	// error are stored as spaces.
	Rows [25][Columns]byte
	// RowSent marks the rows that were received.
	RowSent [25]bool
	// Triplets are the X/26 triplets in designation-code order.
	Triplets []Triplet
	// ParityErrors counts text bytes with even parity.
	ParityErrors int

	x26 [16][]Triplet
}

// PageNumber returns the page as three hex digits, for example "888".
func (p *Page) PageNumber() string { return fmt.Sprintf("%d%02X", p.Magazine, p.Number) }

// Decode parses a teletext PES (EN 300 472) and the packets in it (EN 300
// 706). It never panics on malformed input; it returns what it could read
// together with an error wrapping ErrTruncated when the data ends early.
func Decode(pes []byte) (DecodedPES, error) {
	d := DecodedPES{PTS: -1}
	if len(pes) < 9 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 || pes[3] != 0xBD {
		return d, fmt.Errorf("%w: no private_stream_1 start code", ErrNotTeletext)
	}
	end := len(pes)
	if l := int(pes[4])<<8 | int(pes[5]); l != 0 {
		if 6+l > end {
			return d, fmt.Errorf("%w: PES_packet_length %d, have %d bytes", ErrTruncated, l, end-6)
		}
		end = 6 + l
	}
	if pes[6]&0xC0 != 0x80 {
		return d, fmt.Errorf("%w: no PES optional header", ErrNotTeletext)
	}
	hl := int(pes[8])
	if 9+hl > end {
		return d, fmt.Errorf("%w: PES header length %d", ErrTruncated, hl)
	}
	if pes[7]&0x80 != 0 && hl >= 5 {
		d.PTS = readPTS(pes[9:14])
	}
	o := 9 + hl
	if o >= end {
		return d, fmt.Errorf("%w: no data_identifier", ErrTruncated)
	}
	d.DataIdentifier = pes[o]
	if d.DataIdentifier < 0x10 || d.DataIdentifier > 0x1F {
		return d, fmt.Errorf("%w: data_identifier %#02x", ErrNotTeletext, d.DataIdentifier)
	}
	o++
	var current [8]int // per magazine: index+1 into d.Pages
	var err error
	for o < end {
		if o+2 > end {
			err = fmt.Errorf("%w: data unit header at byte %d", ErrTruncated, o)
			break
		}
		id, l := pes[o], int(pes[o+1])
		if o+2+l > end {
			err = fmt.Errorf("%w: data unit of %d bytes at byte %d", ErrTruncated, l, o)
			break
		}
		u := pes[o+2 : o+2+l]
		o += 2 + l
		if (id != DataUnitSubtitle && id != DataUnitNonSubtitle) || l != 0x2C {
			continue
		}
		d.Units++
		if u[1] != 0xE4 {
			d.Errors++
			continue
		}
		var p [packetLen]byte
		for i := range p {
			p[i] = bits.Reverse8(u[2+i])
		}
		d.packet(&p, &current)
	}
	for i := range d.Pages {
		pg := &d.Pages[i]
		for _, t := range pg.x26 {
			pg.Triplets = append(pg.Triplets, t...)
		}
		pg.x26 = [16][]Triplet{}
	}
	return d, err
}

// packet files one 42-byte packet into the page it belongs to.
func (d *DecodedPES) packet(p *[packetLen]byte, current *[8]int) {
	a, b := unham84[p[0]], unham84[p[1]]
	if a < 0 || b < 0 {
		d.Errors++
		return
	}
	mag := int(a & 7)
	y := int(a>>3) | int(b)<<1
	switch {
	case y == 0:
		var n [8]int8
		for i := range n {
			n[i] = unham84[p[2+i]]
			if n[i] < 0 {
				d.Errors++
				current[mag] = 0
				return
			}
		}
		m := mag
		if m == 0 {
			m = 8
		}
		pg := Page{
			Magazine:       m,
			Number:         byte(n[1])<<4 | byte(n[0]),
			Subcode:        uint16(n[2]) | uint16(n[3]&7)<<4 | uint16(n[4])<<8 | uint16(n[5]&3)<<12,
			Erase:          n[3]&8 != 0,
			Newsflash:      n[5]&4 != 0,
			Subtitle:       n[5]&8 != 0,
			SuppressHeader: n[6]&1 != 0,
			Update:         n[6]&2 != 0,
			Interrupted:    n[6]&4 != 0,
			InhibitDisplay: n[6]&8 != 0,
			Serial:         n[7]&1 != 0,
			Subset:         Subset(n[7] >> 1),
		}
		for i := 10; i < packetLen; i++ {
			pg.Rows[0][i-2] = d.text(&pg, p[i])
		}
		pg.RowSent[0] = true
		d.Pages = append(d.Pages, pg)
		current[mag] = len(d.Pages)
	case y <= 24:
		if current[mag] == 0 {
			return
		}
		pg := &d.Pages[current[mag]-1]
		for i := 0; i < Columns; i++ {
			pg.Rows[y][i] = d.text(pg, p[2+i])
		}
		pg.RowSent[y] = true
	case y == 26:
		if current[mag] == 0 {
			return
		}
		pg := &d.Pages[current[mag]-1]
		dc := unham84[p[2]]
		if dc < 0 {
			d.Errors++
			return
		}
		ts := make([]Triplet, 0, tripletsX26)
		for k := 0; k < tripletsX26; k++ {
			v, ok := unhamming2418([3]byte{p[3+3*k], p[4+3*k], p[5+3*k]})
			if !ok {
				d.Errors++
				continue
			}
			ts = append(ts, Triplet{Address: uint8(v & 0x3F), Mode: uint8(v >> 6 & 0x1F), Data: uint8(v >> 11 & 0x7F)})
		}
		pg.x26[dc] = ts
	}
}

// text strips the parity bit of a text byte, or returns a space on a parity
// error.
func (d *DecodedPES) text(pg *Page, b byte) byte {
	if !parityOK(b) {
		pg.ParityErrors++
		return ' '
	}
	return b & 0x7F
}

func readPTS(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// Find returns the first page with the given magazine (1–8) and page number
// byte.
func (d *DecodedPES) Find(magazine int, number byte) (*Page, bool) {
	for i := range d.Pages {
		if d.Pages[i].Magazine == magazine && d.Pages[i].Number == number {
			return &d.Pages[i], true
		}
	}
	return nil, false
}

// Grid returns the page as a Level 1.5 decoder shows rows 1–24: the G0
// characters of the national option subset, spacing attributes as spaces,
// rows under a double-height row hidden, and the X/26 characters (G2
// characters and characters with diacritical marks) applied.
func (p *Page) Grid() [25][Columns]rune {
	var g [25][Columns]rune
	hidden := false
	for y := 1; y <= 24; y++ {
		double := false
		for x := 0; x < Columns; x++ {
			c := p.Rows[y][x]
			switch {
			case !p.RowSent[y] || hidden || c < 0x20:
				g[y][x] = ' '
			default:
				g[y][x] = g0Rune(p.Subset, c)
			}
			if p.RowSent[y] && !hidden && c == 0x0D {
				double = true
			}
		}
		hidden = double
	}
	row := 0
	for _, t := range p.Triplets {
		if t.Address >= 40 {
			if t.Mode == 0x1F && t.Address == 63 {
				break // termination marker
			}
			if t.Mode == 0x04 || t.Mode == 0x01 || t.Mode == 0x07 {
				row = int(t.Address) - 40
				if row == 0 {
					row = 24
				}
				if t.Mode == 0x07 {
					row = 0
				}
			}
			continue
		}
		if row < 1 || row > 24 || t.Data < 0x20 {
			continue
		}
		switch {
		case t.Mode == 0x0F:
			g[row][t.Address] = latinG2[t.Data-0x20]
		case t.Mode == 0x10:
			g[row][t.Address] = g0Plain(t.Data)
		case t.Mode > 0x10:
			if r, ok := compose[composition{t.Mode - 0x10, t.Data}]; ok {
				g[row][t.Address] = r
			}
		}
	}
	return g
}

// Lines returns the non-empty rows of Grid, top to bottom, with leading and
// trailing spaces removed.
func (p *Page) Lines() []string {
	g := p.Grid()
	var out []string
	for y := 1; y <= 24; y++ {
		s := strings.Trim(string(g[y][:]), " ")
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
