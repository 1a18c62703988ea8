package mpegts

import (
	"errors"
	"fmt"
	"testing"

	"github.com/asticode/go-astits"

	"github.com/subtitled/subtitled/ingest"
)

var casesPESHeader = []struct {
	name    string
	in      []byte
	want    pesHeader
	wantErr error
}{
	{
		name: "audio with PTS",
		in:   append([]byte{0, 0, 1, 0xC0, 0x00, 0x10, 0x80, 0x80, 0x05}, append(encodeTimestamp(2, 0x1_2345_6789), 0xAA)...),
		want: pesHeader{streamID: 0xC0, length: 0x10, hasPTS: true, pts: 0x1_2345_6789, payload: 14},
	},
	{
		name: "PTS and DTS",
		in:   append(append([]byte{0, 0, 1, 0xE0, 0, 0, 0x80, 0xC0, 0x0A}, encodeTimestamp(3, 1<<33-1)...), encodeTimestamp(1, 42)...),
		want: pesHeader{streamID: 0xE0, hasPTS: true, pts: 1<<33 - 1, hasDTS: true, dts: 42, payload: 19},
	},
	{
		name: "no PTS, stuffing in header",
		in:   []byte{0, 0, 1, 0xBD, 0, 7, 0x80, 0x00, 0x02, 0xFF, 0xFF, 0x0B, 0x77},
		want: pesHeader{streamID: 0xBD, length: 7, payload: 11},
	},
	{
		name: "private_stream_2 has no optional header",
		in:   []byte{0, 0, 1, 0xBF, 0, 2, 0x12, 0x34},
		want: pesHeader{streamID: 0xBF, length: 2, payload: 6},
	},
	{name: "padding", in: []byte{0, 0, 1, 0xBE, 0, 2, 0xFF, 0xFF}, want: pesHeader{streamID: 0xBE, length: 2}, wantErr: errPESPadding},
	{name: "bad start code", in: []byte{0, 0, 2, 0xC0, 0, 0, 0x80, 0, 0}, wantErr: errPESStartCode},
	{name: "too short", in: []byte{0, 0, 1, 0xC0}, wantErr: errPESShort},
	{name: "optional header cut", in: []byte{0, 0, 1, 0xC0, 0, 0, 0x80}, want: pesHeader{streamID: 0xC0}, wantErr: errPESShort},
	{name: "bad marker", in: []byte{0, 0, 1, 0xC0, 0, 0, 0x40, 0, 0}, want: pesHeader{streamID: 0xC0}, wantErr: errPESMarker},
	{name: "header length past end", in: []byte{0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 0x20, 1, 2}, want: pesHeader{streamID: 0xC0, payload: 0x29}, wantErr: errPESShort},
	{name: "PTS flag but short header", in: []byte{0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 0x02, 1, 2}, want: pesHeader{streamID: 0xC0, payload: 11}, wantErr: errPESShort},
}

func TestParsePESHeader(t *testing.T) {
	for _, c := range casesPESHeader {
		t.Run(c.name, func(t *testing.T) {
			got, err := parsePESHeader(c.in)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	b := newTSBuilder()
	b.packet(0x123, true, pktOpts{disc: true, pcr: 1<<33 - 5, tsc: 2}, []byte{1, 2, 3})
	b.packet(0x1FFF, false, noPkt, make([]byte, 184))
	b.packet(0x42, false, pktOpts{pcr: 7}, nil)
	p := b.bytes()
	cases := []struct {
		name string
		pkt  []byte
		want header
		ok   bool
	}{
		{"pcr, flags, stuffing", p[:188], header{pid: 0x123, pusi: true, tsc: 2, cc: 0, hasPayload: true, discontinuity: true, hasPCR: true, pcr: 1<<33 - 5, payload: []byte{1, 2, 3}}, true},
		{"full payload", p[188:376], header{pid: 0x1FFF, hasPayload: true, payload: make([]byte, 184)}, true},
		{"adaptation only", p[376:], header{pid: 0x42, cc: 15, hasPCR: true, pcr: 7}, true},
		{"af length overruns", append([]byte{0x47, 0x00, 0x10, 0x30, 184}, make([]byte, 183)...), header{pid: 0x10, hasPayload: true}, false},
		{"no sync", make([]byte, 188), header{}, false},
		{"short", []byte{0x47}, header{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseHeader(c.pkt)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if string(got.payload) != string(c.want.payload) {
				t.Fatalf("payload = %x, want %x", got.payload, c.want.payload)
			}
			got.payload, c.want.payload = nil, nil
			if fmtHeader(got) != fmtHeader(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func fmtHeader(h header) string { return fmt.Sprintf("%+v", h) }

var casesUnwrap = []struct {
	name      string
	raw       []uint64
	want      []int64
	wantWraps int
}{
	{"plain", []uint64{100, 3100, 6100}, []int64{100, 3100, 6100}, 0},
	{"wrap", []uint64{1<<33 - 3000, 1<<33 - 100, 2900, 5900}, []int64{1<<33 - 3000, 1<<33 - 100, 1<<33 + 2900, 1<<33 + 5900}, 1},
	{"jitter back", []uint64{90000, 89000, 92000}, []int64{90000, 89000, 92000}, 0},
	{"jitter back across wrap", []uint64{1<<33 + 500 - 1<<33, 1<<33 - 500, 1000}, []int64{500, -500, 1000}, 0},
	{"large jump is not a wrap", []uint64{1<<32 + 10, 10}, []int64{1<<32 + 10, 10}, 0},
	{"two wraps", []uint64{1<<33 - 1, 1 << 31, 1 << 32, 3 << 31, 1<<33 - 1, 5}, []int64{1<<33 - 1, 1<<33 + 1<<31, 1<<33 + 1<<32, 1<<33 + 3<<31, 1<<34 - 1, 1<<34 + 5}, 2},
	{"jitter across wrap counts once", []uint64{1<<33 - 100, 50, 1<<33 - 10, 100}, []int64{1<<33 - 100, 1<<33 + 50, 1<<33 - 10, 1<<33 + 100}, 1},
	{"high bits ignored", []uint64{1<<40 | 7}, []int64{7}, 0},
}

func TestUnwrap(t *testing.T) {
	for _, c := range casesUnwrap {
		t.Run(c.name, func(t *testing.T) {
			var u unwrapper
			wraps := 0
			for i, r := range c.raw {
				v, w := u.unwrap(r)
				wraps += w
				if v != c.want[i] {
					t.Fatalf("step %d: unwrap(%d) = %d, want %d", i, r, v, c.want[i])
				}
				if uint64(v)&(1<<33-1) != r&(1<<33-1) {
					t.Fatalf("step %d: %d is not congruent to %d mod 2^33", i, v, r)
				}
			}
			if wraps != c.wantWraps {
				t.Fatalf("wraps = %d, want %d", wraps, c.wantWraps)
			}
		})
	}
}

func TestWrapDelta(t *testing.T) {
	cases := []struct {
		a, b uint64
		want int64
	}{
		{10, 5, 5}, {5, 10, -5}, {2, 1<<33 - 2, 4}, {1<<33 - 2, 2, -4}, {1 << 32, 0, -(1 << 32)}, {1<<32 - 1, 0, 1<<32 - 1},
	}
	for _, c := range cases {
		if got := wrapDelta(c.a, c.b); got != c.want {
			t.Errorf("wrapDelta(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

var casesClassify = []struct {
	name  string
	st    uint8
	desc  []*astits.Descriptor
	kind  esKind
	codec ingest.Codec
	fmt   string
}{
	{"mpeg1 audio", 0x03, nil, esAudio, ingest.CodecMP2, "mp2"},
	{"mpeg2 audio", 0x04, nil, esAudio, ingest.CodecMP2, "mp2"},
	{"adts", 0x0F, nil, esAudio, ingest.CodecAACADTS, "aac"},
	{"latm", 0x11, nil, esAudio, ingest.CodecAACLATM, "aac_latm"},
	{"atsc ac3", 0x81, nil, esAudio, ingest.CodecAC3, "ac3"},
	{"atsc eac3", 0x87, nil, esAudio, ingest.CodecEAC3, "eac3"},
	{"dvb ac3", 0x06, []*astits.Descriptor{{Tag: tagAC3, AC3: &astits.DescriptorAC3{}}}, esAudio, ingest.CodecAC3, "ac3"},
	{"dvb eac3", 0x06, []*astits.Descriptor{{Tag: tagEnhancedAC3, EnhancedAC3: &astits.DescriptorEnhancedAC3{}}}, esAudio, ingest.CodecEAC3, "eac3"},
	{"registration AC-3", 0x06, []*astits.Descriptor{reg("AC-3")}, esAudio, ingest.CodecAC3, "ac3"},
	{"registration EAC3 wins over AC-3 descriptor", 0x06, []*astits.Descriptor{reg("EAC3"), {Tag: tagAC3}}, esAudio, ingest.CodecEAC3, "eac3"},
	{"opus", 0x06, []*astits.Descriptor{reg("Opus")}, esAudio, ingest.CodecOpus, "opus"},
	{"dvb dts", 0x06, []*astits.Descriptor{{Tag: tagDTS}}, esUnsupported, ingest.CodecUnknown, "dts"},
	{"registration DTS2", 0x06, []*astits.Descriptor{reg("DTS2")}, esUnsupported, ingest.CodecUnknown, "dts"},
	{"s302m", 0x06, []*astits.Descriptor{reg("BSSD")}, esUnsupported, ingest.CodecUnknown, "s302m"},
	{"teletext", 0x06, []*astits.Descriptor{{Tag: 0x56}}, esOther, ingest.CodecUnknown, "private_pes"},
	{"private without descriptors", 0x06, nil, esOther, ingest.CodecUnknown, "private_pes"},
	{"dts 0x82", 0x82, nil, esUnsupported, ingest.CodecUnknown, "dts"},
	{"truehd", 0x83, nil, esUnsupported, ingest.CodecUnknown, "truehd"},
	{"mpeg-h", 0x2D, nil, esUnsupported, ingest.CodecUnknown, "mpegh_3d_audio"},
	{"h264", 0x1B, nil, esOther, ingest.CodecUnknown, "h264"},
	{"scte35 is not audio", 0x86, nil, esOther, ingest.CodecUnknown, "scte35"},
	{"nil descriptor ignored", 0x0F, []*astits.Descriptor{nil}, esAudio, ingest.CodecAACADTS, "aac"},
}

func reg(id string) *astits.Descriptor {
	return &astits.Descriptor{Tag: tagRegistration, Registration: &astits.DescriptorRegistration{
		FormatIdentifier: uint32(id[0])<<24 | uint32(id[1])<<16 | uint32(id[2])<<8 | uint32(id[3]),
	}}
}

func TestClassify(t *testing.T) {
	for _, c := range casesClassify {
		t.Run(c.name, func(t *testing.T) {
			got := classify(&astits.PMTElementaryStream{ElementaryPID: 0x44, StreamType: astits.StreamType(c.st), ElementaryStreamDescriptors: c.desc})
			if got.kind != c.kind || got.codec != c.codec || got.format != c.fmt || got.pid != 0x44 || got.streamType != c.st {
				t.Fatalf("got %+v, want kind %d codec %v format %q", got, c.kind, c.codec, c.fmt)
			}
		})
	}
}

func TestParseISO639(t *testing.T) {
	cases := []struct {
		name  string
		in    astits.DescriptorISO639LanguageAndAudioType
		langs []string
		typ   uint8
	}{
		{"one", astits.DescriptorISO639LanguageAndAudioType{Language: []byte("ENG"), Type: 3}, []string{"eng"}, 3},
		{"two", astits.DescriptorISO639LanguageAndAudioType{Language: []byte("deu\x01eng"), Type: 0}, []string{"deu", "eng"}, 1},
		{"short", astits.DescriptorISO639LanguageAndAudioType{Language: []byte("en"), Type: 0}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			langs, typ := parseISO639(&c.in)
			if len(langs) != len(c.langs) || typ != c.typ {
				t.Fatalf("got %q type %d, want %q type %d", langs, typ, c.langs, c.typ)
			}
			for i := range langs {
				if langs[i] != c.langs[i] {
					t.Fatalf("got %q, want %q", langs, c.langs)
				}
			}
		})
	}
}

var casesLanguage = []struct {
	in      string
	want    []string
	wantErr bool
}{
	{"", nil, false},
	{"eng", []string{"eng"}, false},
	{"EN", []string{"eng"}, false},
	{" de ", []string{"deu", "ger"}, false},
	{"ger", []string{"deu", "ger"}, false},
	{"fre", []string{"fra", "fre"}, false},
	{"qaa", []string{"qaa"}, false},
	{"xx", nil, true},
	{"english", nil, true},
	{"e1g", nil, true},
}

func TestLanguageCodes(t *testing.T) {
	for _, c := range casesLanguage {
		got, err := languageCodes(c.in)
		if (err != nil) != c.wantErr {
			t.Fatalf("languageCodes(%q) err = %v, want error %v", c.in, err, c.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("languageCodes(%q) err = %v, want ErrInvalidOption", c.in, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("languageCodes(%q) = %q, want %q", c.in, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("languageCodes(%q) = %q, want %q", c.in, got, c.want)
			}
		}
	}
}

func TestChooseAudio(t *testing.T) {
	video := esInfo{pid: 0x100, kind: esOther}
	deu := esInfo{pid: 0x101, kind: esAudio, codec: ingest.CodecAACADTS, langs: []string{"deu"}}
	eng := esInfo{pid: 0x102, kind: esAudio, codec: ingest.CodecMP2, langs: []string{"eng"}}
	engAD := esInfo{pid: 0x103, kind: esAudio, codec: ingest.CodecMP2, langs: []string{"eng"}, audioType: audioTypeVisualImpaired}
	dtsEng := esInfo{pid: 0x104, kind: esUnsupported, langs: []string{"eng"}}
	dts := esInfo{pid: 0x105, kind: esUnsupported}
	cases := []struct {
		name             string
		streams          []esInfo
		want             []string
		pid              uint16
		found, supported bool
	}{
		{"first audio", []esInfo{video, deu, eng}, nil, 0x101, true, true},
		{"language", []esInfo{video, deu, eng}, []string{"eng"}, 0x102, true, true},
		{"no match falls back to first", []esInfo{deu, eng}, []string{"fra"}, 0x101, true, true},
		{"audio description last", []esInfo{engAD, eng}, []string{"eng"}, 0x102, true, true},
		{"audio description first without language", []esInfo{engAD, deu}, nil, 0x101, true, true},
		{"only audio description", []esInfo{engAD}, []string{"eng"}, 0x103, true, true},
		{"supported beats unsupported in language", []esInfo{dtsEng, deu}, []string{"eng"}, 0x101, true, true},
		{"unsupported only", []esInfo{video, dts, dtsEng}, []string{"eng"}, 0x104, true, false},
		{"no audio", []esInfo{video}, nil, 0, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, found, ok := chooseAudio(c.streams, c.want)
			if found != c.found || ok != c.supported || got.pid != c.pid {
				t.Fatalf("got PID 0x%x found %v supported %v, want 0x%x %v %v", got.pid, found, ok, c.pid, c.found, c.supported)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	cases := map[Reason]string{
		0:                                    "none",
		ReasonContinuity:                     "continuity",
		ReasonIndicator | ReasonPTSJump:      "indicator|pts_jump",
		ReasonScrambled | ReasonStreamChange: "scrambled|stream_change",
		ReasonDropped | 1<<12:                "dropped|unknown",
	}
	for r, want := range cases {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", r, got, want)
		}
	}
}

func TestCRC32MPEG2(t *testing.T) {
	// The check value of CRC-32/MPEG-2 for "123456789".
	if got := crc32MPEG2([]byte("123456789")); got != 0x0376E6E7 {
		t.Fatalf("crc = %08x, want 0376e6e7", got)
	}
}

func TestSectionsComplete(t *testing.T) {
	pat := patSection(0, [2]uint16{1, 0x1000})
	cases := []struct {
		name string
		in   []byte
		want bool
	}{
		{"one section and stuffing", append(append([]byte{0}, pat...), 0xFF, 0xFF), true},
		{"exactly full", append([]byte{0}, pat...), true},
		{"two sections", append(append([]byte{0}, pat...), pat...), true},
		{"cut", append([]byte{0}, pat[:len(pat)-1]...), false},
		{"pointer field", append([]byte{1, 0xAA}, pat...), false},
		{"header cut", []byte{0, 0x00, 0xB0}, false},
		{"empty", nil, false},
		{"only stuffing", []byte{0, 0xFF}, true},
		{"long section", []byte{0, 0x02, 0xB3, 0xFF, 1, 2}, false},
	}
	for _, c := range cases {
		if got := sectionsComplete(c.in); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
