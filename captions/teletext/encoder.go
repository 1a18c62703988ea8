package teletext

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Page geometry and capacities.
const (
	// Columns is the width of a teletext row in character cells.
	Columns = 40
	// MaxLineCells is the number of visible characters per row: 40 cells
	// minus the six control cells (double height, colour, two start box,
	// two end box) that frame a subtitle line.
	MaxLineCells = Columns - 6
	// MaxRows is the number of subtitle rows per page: double-height rows
	// 22, 20, ..., 2 from the bottom up.
	MaxRows = 11
	// maxX26 is the number of X/26 packets per page (designation codes
	// 0–15), 13 triplets each.
	maxX26       = 16
	tripletsX26  = 13
	maxTriplets  = maxX26 * tripletsX26
	packetLen    = 42 // MRAG + 40 bytes
	unitLen      = 46 // data_unit_id, length, 44 bytes
	pesHeaderLen = 45
	tsPayload    = 184
	// MaxPESSize is the largest PES the encoder writes: 8 TS packets, the
	// size of the teletext T-STD buffer (EN 300 472).
	MaxPESSize = 8 * tsPayload
)

// Data unit ids of EN 300 472.
const (
	DataUnitNonSubtitle byte = 0x02
	DataUnitSubtitle    byte = 0x03
	dataUnitStuffing    byte = 0xFF
)

// ErrOptions reports invalid Options.
var ErrOptions = errors.New("teletext: invalid options")

// Options configure an Encoder. The zero value encodes English subtitles on
// page 888 in data units 0x03.
type Options struct {
	// Page is the subtitle page, 100–899 in decimal (magazine 1–8 and a
	// two-digit page). 0 means 888.
	Page int
	// Language is the channel's language as an ISO 639-1 or 639-2 code. It
	// selects the national option subset (see LanguageSubset) and the code
	// for the teletext_descriptor (see ISO6392). "" means English.
	Language string
	// DataUnitID is 0x03 (EBU teletext subtitle data, the default) or 0x02
	// (EBU teletext non-subtitle data).
	DataUnitID byte
}

// Encoder builds teletext subtitle PES packets for one page. It is safe for
// concurrent use: it has no mutable state.
type Encoder struct {
	magazine int  // 1..8
	page     byte // BCD tens<<4 | units
	subset   Subset
	cs       *charset
	iso      string
	unitID   byte
}

// NewEncoder validates opts and returns an Encoder.
func NewEncoder(opts Options) (*Encoder, error) {
	p := opts.Page
	if p == 0 {
		p = 888
	}
	if p < 100 || p > 899 {
		return nil, fmt.Errorf("%w: page %d is not in 100–899", ErrOptions, opts.Page)
	}
	id := opts.DataUnitID
	if id == 0 {
		id = DataUnitSubtitle
	}
	if id != DataUnitSubtitle && id != DataUnitNonSubtitle {
		return nil, fmt.Errorf("%w: data_unit_id %#02x is not 0x02 or 0x03", ErrOptions, id)
	}
	lang := opts.Language
	if lang == "" {
		lang = "eng"
	}
	s := LanguageSubset(lang)
	return &Encoder{
		magazine: p / 100,
		page:     byte((p/10%10)<<4 | p%10),
		subset:   s,
		cs:       charsetFor(s),
		iso:      ISO6392(lang),
		unitID:   id,
	}, nil
}

// Magazine returns the page's magazine, 1–8.
func (e *Encoder) Magazine() int { return e.magazine }

// PageNumber returns the page number as configured, for example 888.
func (e *Encoder) PageNumber() int {
	return e.magazine*100 + int(e.page>>4)*10 + int(e.page&0xF)
}

// PageBCD returns the page byte of the teletext_descriptor: the two page
// digits in BCD, for example 0x88.
func (e *Encoder) PageBCD() byte { return e.page }

// Language returns the ISO 639-2 code for the teletext_descriptor.
func (e *Encoder) Language() string { return e.iso }

// Subset returns the national option subset sent in the page header.
func (e *Encoder) Subset() Subset { return e.subset }

// rowLayout is one laid-out subtitle row.
type rowLayout struct {
	row   int    // 2..22
	text  []rune // what a Level 1.5 decoder shows
	cells []cell // per character of text
	start int    // column of the first text character
}

// layout applies replacement, wrapping and the X/26 budget to lines.
func (e *Encoder) layout(lines []string) []rowLayout {
	var texts [][]rune
	for _, l := range lines {
		rs := replaceRunes(l, e.cs)
		texts = append(texts, wrap(rs)...)
		if len(texts) >= MaxRows {
			break
		}
	}
	if len(texts) > MaxRows {
		texts = texts[:MaxRows]
	}
	out := make([]rowLayout, len(texts))
	budget := maxTriplets
	for i, t := range texts {
		r := rowLayout{row: 22 - 2*(len(texts)-1-i), text: t, cells: make([]cell, len(t))}
		r.start = 4 + max(0, (MaxLineCells-2-len(t))/2)
		rowTriplet := false
		for j, ch := range t {
			c, ok := e.cs.cell(ch)
			if !ok { // replaceRunes leaves only representable runes
				c = cell{code: '?'}
				t[j] = '?'
			}
			if c.mode != 0 {
				need := 1
				if !rowTriplet {
					need = 2
				}
				if budget < need {
					// Out of X/26 capacity: the Level 1 character stays.
					t[j] = g0Rune(e.subset, c.code)
					c = cell{code: c.code}
				} else {
					budget -= need
					rowTriplet = true
				}
			}
			r.cells[j] = c
		}
		out[i] = r
	}
	return out
}

// wrap splits a line into rows of at most MaxLineCells cells, breaking at
// the last space that fits (hard in the middle of a word longer than a
// row). Leading and trailing spaces are dropped, and so are empty rows.
func wrap(rs []rune) [][]rune {
	var out [][]rune
	for {
		for len(rs) > 0 && rs[0] == ' ' {
			rs = rs[1:]
		}
		for len(rs) > 0 && rs[len(rs)-1] == ' ' {
			rs = rs[:len(rs)-1]
		}
		if len(rs) == 0 {
			return out
		}
		if len(rs) <= MaxLineCells {
			return append(out, rs)
		}
		cut := -1
		for i := MaxLineCells; i > 0; i-- {
			if rs[i] == ' ' {
				cut = i
				break
			}
		}
		if cut < 0 {
			out = append(out, rs[:MaxLineCells:MaxLineCells])
			rs = rs[MaxLineCells:]
			continue
		}
		head := rs[:cut:cut]
		for len(head) > 0 && head[len(head)-1] == ' ' {
			head = head[:len(head)-1]
		}
		out = append(out, head)
		rs = rs[cut:]
	}
}

// Layout returns the rows that a Level 1.5 decoder shows for lines, top to
// bottom: the lines after character replacement (see Replace), wrapped at
// MaxLineCells and cut at MaxRows, with leading and trailing spaces
// removed and empty lines dropped.
func (e *Encoder) Layout(lines []string) []string {
	rows := e.layout(lines)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = string(r.text)
	}
	return out
}

// Show returns the PES that displays lines (top to bottom) on the page,
// replacing what it showed before. The PES holds the page header with the
// erase, subtitle and suppress-header flags, the X/26 enhancement packets,
// one double-height boxed row per line (centred), and the header of page
// xFF of the same magazine that ends the page, so that decoders display it
// at once. With no visible text it equals Clear.
func (e *Encoder) Show(lines []string, pts int64) []byte {
	rows := e.layout(lines)
	pkts := make([][packetLen]byte, 0, 2+len(rows)+4)
	pkts = append(pkts, e.header(e.page, true))
	pkts = append(pkts, e.enhancements(rows)...)
	for _, r := range rows {
		pkts = append(pkts, e.row(r))
	}
	pkts = append(pkts, e.header(0xFF, false))
	return e.pes(pkts, pts)
}

// Clear returns the PES that erases the page (a header with the erase flag
// and no rows, then the page-ending header).
func (e *Encoder) Clear(pts int64) []byte {
	return e.pes([][packetLen]byte{e.header(e.page, true), e.header(0xFF, false)}, pts)
}

// mrag returns the magazine and row address group bytes.
func mrag(magazine, y int) (byte, byte) {
	return hamming84(magazine&7 | (y&1)<<3), hamming84(y >> 1)
}

// header builds an X/0 packet. For the subtitle page (subtitle true) it sets
// C4 erase, C6 subtitle and C7 suppress header, and the national option;
// for the terminating xFF page every control bit is clear.
func (e *Encoder) header(page byte, subtitle bool) [packetLen]byte {
	var p [packetLen]byte
	p[0], p[1] = mrag(e.magazine, 0)
	p[2] = hamming84(int(page & 0xF))
	p[3] = hamming84(int(page >> 4))
	c4, c6, c7, nat := 0, 0, 0, 0
	if subtitle {
		c4, c6, c7, nat = 1, 1, 1, int(e.subset)
	}
	p[4] = hamming84(0)       // S1
	p[5] = hamming84(c4 << 3) // S2, C4
	p[6] = hamming84(0)       // S3
	p[7] = hamming84(c6 << 3) // S4, C5 (0), C6
	p[8] = hamming84(c7)      // C7, C8, C9, C10
	p[9] = hamming84(nat << 1)
	for i := 10; i < packetLen; i++ {
		p[i] = oddParity[' ']
	}
	return p
}

// row builds the display packet of one subtitle row:
// spaces, double height, white, start box ×2, text, end box ×2, spaces.
func (e *Encoder) row(r rowLayout) [packetLen]byte {
	var p [packetLen]byte
	p[0], p[1] = mrag(e.magazine, r.row)
	line := p[2:]
	for i := range line {
		line[i] = oddParity[' ']
	}
	s := r.start - 4
	line[s] = oddParity[0x0D]   // double height
	line[s+1] = oddParity[0x07] // alpha white
	line[s+2] = oddParity[0x0B] // start box
	line[s+3] = oddParity[0x0B]
	for j, c := range r.cells {
		line[r.start+j] = oddParity[c.code&0x7F]
	}
	end := r.start + len(r.cells)
	line[end] = oddParity[0x0A] // end box
	line[end+1] = oddParity[0x0A]
	return p
}

// enhancements builds the X/26 packets for the cells that need Level 1.5.
func (e *Encoder) enhancements(rows []rowLayout) [][packetLen]byte {
	var trips []uint32
	for _, r := range rows {
		first := true
		for j, c := range r.cells {
			if c.mode == 0 {
				continue
			}
			if first {
				trips = append(trips, triplet(40+r.row, 0x04, 0)) // set active position
				first = false
			}
			trips = append(trips, triplet(r.start+j, int(c.mode), int(c.data)))
		}
	}
	if len(trips) == 0 {
		return nil
	}
	n := (len(trips) + tripletsX26) / tripletsX26 // room for the termination marker
	if n > maxX26 {
		n = maxX26
	}
	pkts := make([][packetLen]byte, n)
	for i := range pkts {
		p := &pkts[i]
		p[0], p[1] = mrag(e.magazine, 26)
		p[2] = hamming84(i) // designation code
		for k := 0; k < tripletsX26; k++ {
			t := triplet(63, 0x1F, 0) // termination marker
			if idx := i*tripletsX26 + k; idx < len(trips) {
				t = trips[idx]
			}
			b := hamming2418(t)
			copy(p[3+3*k:], b[:])
		}
	}
	return pkts
}

// triplet packs an X/26 triplet: address (6 bits), mode (5), data (7).
func triplet(address, mode, data int) uint32 {
	return uint32(address&0x3F) | uint32(mode&0x1F)<<6 | uint32(data&0x7F)<<11
}

// pes wraps packets in data units and a PES of N×184 bytes.
func (e *Encoder) pes(pkts [][packetLen]byte, pts int64) []byte {
	units := len(pkts)
	n := (pesHeaderLen + 1 + unitLen*units + tsPayload - 1) / tsPayload
	size := n * tsPayload
	b := make([]byte, size)
	b[0], b[1], b[2], b[3] = 0, 0, 1, 0xBD
	l := size - 6
	b[4], b[5] = byte(l>>8), byte(l)
	b[6], b[7], b[8] = 0x84, 0x80, 0x24
	putPTS(b[9:14], pts)
	for i := 14; i < pesHeaderLen; i++ {
		b[i] = 0xFF
	}
	b[pesHeaderLen] = 0x10 // data_identifier: EBU data
	o := pesHeaderLen + 1
	for i, p := range pkts {
		u := b[o : o+unitLen]
		u[0], u[1] = e.unitID, 0x2C
		parity, offset := 1, 7+i
		if i >= 16 {
			parity, offset = 0, 7+i-16
		}
		u[2] = 0xC0 | byte(parity)<<5 | byte(offset)
		u[3] = 0xE4 // framing code
		for j, v := range p {
			u[4+j] = bits.Reverse8(v)
		}
		o += unitLen
	}
	for ; o < size; o += unitLen {
		u := b[o : o+unitLen]
		u[0], u[1] = dataUnitStuffing, 0x2C
		for j := 2; j < unitLen; j++ {
			u[j] = 0xFF
		}
	}
	return b
}

// putPTS writes a 33-bit PTS with the '0010' prefix and marker bits.
func putPTS(b []byte, pts int64) {
	v := uint64(pts) & (1<<33 - 1)
	b[0] = 0x21 | byte(v>>29)&0x0E
	b[1] = byte(v >> 22)
	b[2] = byte(v>>14) | 1
	b[3] = byte(v >> 7)
	b[4] = byte(v<<1) | 1
}

// String describes the encoder's page, for logs.
func (e *Encoder) String() string {
	return fmt.Sprintf("teletext page %d (%s, %s subset)", e.PageNumber(), e.iso, strings.ToLower(e.subset.String()))
}
