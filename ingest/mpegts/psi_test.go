package mpegts

import (
	"bytes"
	"errors"
	"testing"

	"github.com/asticode/go-astits"
)

// TestPSIParserRecovers: a panic inside the parse loop is recovered, reported
// and the parser keeps working on later packets.
func TestPSIParserRecovers(t *testing.T) {
	b := newTSBuilder()
	b.section(pidPAT, patSection(0, [2]uint16{1, 0x1000}))
	b.section(pidPAT, patSection(1, [2]uint16{2, 0x1100}))
	pkts := splitPackets(b.bytes())
	p := newPSIParser()
	var errs []error
	p.parse(pkts[0], func(*astits.DemuxerData) { panic("boom") }, func(err error) { errs = append(errs, err) })
	if len(errs) != 1 || !errors.Is(errs[0], errParserPanic) {
		t.Fatalf("errors %v", errs)
	}
	var got []*astits.DemuxerData
	p.parse(pkts[1], func(d *astits.DemuxerData) { got = append(got, d) }, func(err error) { t.Fatal(err) })
	if len(got) != 1 || got[0].PAT == nil || got[0].PAT.Programs[0].ProgramNumber != 2 {
		t.Fatalf("after recovery: %+v", got)
	}
}

// TestDemuxParserPanicCounted: the Demuxer counts recovered panics.
func TestDemuxParserPanicCounted(t *testing.T) {
	d, err := New(bytes.NewReader(nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.onPSIError(errParserPanic)
	d.onPSIError(errors.New("astits: Table CRC32 1 != computed CRC32 2"))
	d.onPSIError(errors.New("astits: other"))
	if d.stats.ParserPanics != 1 || d.stats.CRCError != 1 || d.stats.PSIErrors != 1 {
		t.Fatalf("stats %+v", d.stats)
	}
}
