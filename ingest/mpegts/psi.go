package mpegts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/asticode/go-astits"
)

// errFeedEmpty tells the astits demuxer that the packet it was given has been
// consumed. It never leaves the package.
var errFeedEmpty = errors.New("mpegts: psi feed empty")

// errParserPanic wraps a panic recovered from go-astits.
var errParserPanic = errors.New("mpegts: go-astits panicked")

// maxPSIResults bounds the NextData calls per fed packet.
const maxPSIResults = 64

// feeder is the io.Reader astits pulls from: it holds at most one packet and
// reports errFeedEmpty instead of blocking when that packet is gone.
type feeder struct{ pkt []byte }

func (f *feeder) Read(p []byte) (int, error) {
	if len(f.pkt) == 0 {
		return 0, errFeedEmpty
	}
	n := copy(p, f.pkt)
	f.pkt = f.pkt[n:]
	return n, nil
}

// psiParser runs go-astits on the PAT and PMT packets only, one packet at a
// time, so that PSI parsing is astits' while packet handling, continuity,
// scrambling and PES assembly stay in this package.
type psiParser struct {
	feed feeder
	dmx  *astits.Demuxer
}

func newPSIParser() *psiParser {
	p := &psiParser{}
	p.reset()
	return p
}

func (p *psiParser) reset() {
	p.feed.pkt = nil
	p.dmx = astits.NewDemuxer(context.Background(), &p.feed, astits.DemuxerOptPacketSize(PacketSize))
}

// parse feeds one packet and calls fn for every table astits completes, and
// errFn for every parse error. A panic inside astits is recovered, reported
// through errFn wrapping errParserPanic, and the astits demuxer is rebuilt.
func (p *psiParser) parse(pkt []byte, fn func(*astits.DemuxerData), errFn func(error)) {
	defer func() {
		if r := recover(); r != nil {
			p.reset()
			errFn(fmt.Errorf("%w: %v", errParserPanic, r))
		}
	}()
	p.feed.pkt = pkt
	for range maxPSIResults {
		d, err := p.dmx.NextData()
		if errors.Is(err, errFeedEmpty) {
			break
		}
		if err != nil {
			errFn(err)
			continue
		}
		if d != nil {
			fn(d)
		}
	}
	p.feed.pkt = nil
}

// isCRCError reports whether an astits error is a section CRC32 mismatch.
// astits has no sentinel for it; the test TestCRCErrorCounted pins the text.
func isCRCError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "CRC32") && strings.Contains(s, "computed")
}
