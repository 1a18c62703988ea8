package mpegts

import (
	"fmt"
	"strings"

	"github.com/asticode/go-astits"

	"github.com/subtitled/subtitled/ingest"
)

// Descriptor tags used for audio classification (ISO/IEC 13818-1 §2.6,
// ETSI EN 300 468 Annex D and §6.2).
const (
	tagRegistration = 0x05
	tagISO639       = 0x0A
	tagAC3          = 0x6A
	tagEnhancedAC3  = 0x7A
	tagDTS          = 0x7B
)

// Registration descriptor format_identifiers (SMPTE-RA).
const (
	regAC3  = 0x41432D33 // "AC-3"
	regEAC3 = 0x45414333 // "EAC3"
	regOpus = 0x4F707573 // "Opus"
	regDTS1 = 0x44545331 // "DTS1"
	regDTS2 = 0x44545332 // "DTS2"
	regDTS3 = 0x44545333 // "DTS3"
	regBSSD = 0x42535344 // "BSSD", SMPTE 302M
)

// audioType values of the ISO 639 language descriptor (Table 2-60).
const audioTypeVisualImpaired = 0x03

// esKind says what an elementary stream is to the demuxer.
type esKind uint8

const (
	esOther       esKind = iota // not audio
	esAudio                     // audio with a supported codec
	esUnsupported               // audio the daemon cannot decode
)

// esInfo is one PMT entry as the demuxer sees it.
type esInfo struct {
	pid        uint16
	streamType uint8
	kind       esKind
	codec      ingest.Codec
	format     string   // format name for messages
	langs      []string // lower-case ISO 639-2 codes from the language descriptor
	audioType  uint8
}

// language returns the first language code, or "".
func (e esInfo) language() string {
	if len(e.langs) == 0 {
		return ""
	}
	return e.langs[0]
}

func (e esInfo) equal(o esInfo) bool {
	if e.pid != o.pid || e.streamType != o.streamType || e.kind != o.kind ||
		e.codec != o.codec || e.audioType != o.audioType || len(e.langs) != len(o.langs) {
		return false
	}
	for i := range e.langs {
		if e.langs[i] != o.langs[i] {
			return false
		}
	}
	return true
}

// classify maps a PMT entry to a codec from its stream_type and descriptors.
func classify(es *astits.PMTElementaryStream) esInfo {
	info := esInfo{pid: es.ElementaryPID, streamType: uint8(es.StreamType)}
	var reg uint32
	var ac3, eac3, dts bool
	for _, d := range es.ElementaryStreamDescriptors {
		if d == nil {
			continue
		}
		switch d.Tag {
		case tagISO639:
			if d.ISO639LanguageAndAudioType != nil {
				info.langs, info.audioType = parseISO639(d.ISO639LanguageAndAudioType)
			}
		case tagRegistration:
			if d.Registration != nil && reg == 0 {
				reg = d.Registration.FormatIdentifier
			}
		case tagAC3:
			ac3 = true
		case tagEnhancedAC3:
			eac3 = true
		case tagDTS:
			dts = true
		}
	}
	info.kind, info.codec, info.format = codecOf(info.streamType, reg, ac3, eac3, dts)
	return info
}

// codecOf is the stream_type and descriptor table behind classify.
func codecOf(st uint8, reg uint32, ac3, eac3, dts bool) (esKind, ingest.Codec, string) {
	switch st {
	case 0x03, 0x04:
		return esAudio, ingest.CodecMP2, "mp2"
	case 0x0F:
		return esAudio, ingest.CodecAACADTS, "aac"
	case 0x11:
		return esAudio, ingest.CodecAACLATM, "aac_latm"
	case 0x81:
		return esAudio, ingest.CodecAC3, "ac3"
	case 0x87:
		return esAudio, ingest.CodecEAC3, "eac3"
	case 0x06:
		switch {
		case eac3 || reg == regEAC3:
			return esAudio, ingest.CodecEAC3, "eac3"
		case ac3 || reg == regAC3:
			return esAudio, ingest.CodecAC3, "ac3"
		case reg == regOpus:
			return esAudio, ingest.CodecOpus, "opus"
		case dts || reg == regDTS1 || reg == regDTS2 || reg == regDTS3:
			return esUnsupported, ingest.CodecUnknown, "dts"
		case reg == regBSSD:
			return esUnsupported, ingest.CodecUnknown, "s302m"
		}
		return esOther, ingest.CodecUnknown, streamTypeName(st)
	case 0x1C, 0x2D, 0x2E, 0x82, 0x83, 0x84, 0x85, 0x8A, 0xA1, 0xA2:
		return esUnsupported, ingest.CodecUnknown, streamTypeName(st)
	}
	return esOther, ingest.CodecUnknown, streamTypeName(st)
}

// parseISO639 reads the language codes of an ISO 639 language descriptor.
// astits keeps everything but the last byte (the last audio_type) in
// Language, so a descriptor with several entries reads as
// "lng" type "lng" type … "lng".
func parseISO639(d *astits.DescriptorISO639LanguageAndAudioType) (langs []string, audioType uint8) {
	b := d.Language
	for i := 0; i+3 <= len(b); i += 4 {
		langs = append(langs, strings.ToLower(string(b[i:i+3])))
		if i == 0 && len(b) >= 4 {
			audioType = b[3]
		}
	}
	if len(b) < 4 {
		audioType = d.Type
	}
	return langs, audioType
}

// streamTypeName names a stream_type for messages (ISO/IEC 13818-1
// Table 2-34 and common private assignments).
func streamTypeName(st uint8) string {
	switch st {
	case 0x01:
		return "mpeg1_video"
	case 0x02:
		return "mpeg2_video"
	case 0x03:
		return "mpeg1_audio"
	case 0x04:
		return "mpeg2_audio"
	case 0x05:
		return "private_sections"
	case 0x06:
		return "private_pes"
	case 0x0F:
		return "aac"
	case 0x10:
		return "mpeg4_video"
	case 0x11:
		return "aac_latm"
	case 0x15:
		return "metadata"
	case 0x1B:
		return "h264"
	case 0x1C:
		return "mpeg4_audio_raw"
	case 0x24:
		return "hevc"
	case 0x2D, 0x2E:
		return "mpegh_3d_audio"
	case 0x81:
		return "ac3"
	case 0x82, 0x8A:
		return "dts"
	case 0x83:
		return "truehd"
	case 0x84:
		return "eac3_secondary"
	case 0x85:
		return "dts_hd"
	case 0x86:
		return "scte35"
	case 0x87:
		return "eac3"
	case 0xA1:
		return "eac3_secondary"
	case 0xA2:
		return "dts_hd_secondary"
	}
	return "unknown"
}

// iso639 maps ISO 639-1 codes to their ISO 639-2 codes: terminology code
// first, then the bibliographic code where it differs.
var iso639 = map[string][]string{
	"af": {"afr"}, "ar": {"ara"}, "be": {"bel"}, "bg": {"bul"}, "bn": {"ben"},
	"bs": {"bos"}, "ca": {"cat"}, "cs": {"ces", "cze"}, "cy": {"cym", "wel"},
	"da": {"dan"}, "de": {"deu", "ger"}, "el": {"ell", "gre"}, "en": {"eng"},
	"eo": {"epo"}, "es": {"spa"}, "et": {"est"}, "eu": {"eus", "baq"},
	"fa": {"fas", "per"}, "fi": {"fin"}, "fr": {"fra", "fre"}, "ga": {"gle"},
	"gl": {"glg"}, "he": {"heb"}, "hi": {"hin"}, "hr": {"hrv"}, "hu": {"hun"},
	"hy": {"hye", "arm"}, "id": {"ind"}, "is": {"isl", "ice"}, "it": {"ita"},
	"ja": {"jpn"}, "ka": {"kat", "geo"}, "ko": {"kor"}, "la": {"lat"},
	"lb": {"ltz"}, "lt": {"lit"}, "lv": {"lav"}, "mi": {"mri", "mao"},
	"mk": {"mkd", "mac"}, "ms": {"msa", "may"}, "mt": {"mlt"}, "nb": {"nob"},
	"nl": {"nld", "dut"}, "nn": {"nno"}, "no": {"nor"}, "pl": {"pol"},
	"pt": {"por"}, "ro": {"ron", "rum"}, "ru": {"rus"}, "sk": {"slk", "slo"},
	"sl": {"slv"}, "sq": {"sqi", "alb"}, "sr": {"srp"}, "sv": {"swe"},
	"sw": {"swa"}, "ta": {"tam"}, "te": {"tel"}, "th": {"tha"}, "tl": {"tgl"},
	"tr": {"tur"}, "uk": {"ukr"}, "ur": {"urd"}, "vi": {"vie"},
	"zh": {"zho", "chi"},
}

// languageCodes turns Options.Language into the set of ISO 639-2 codes that
// match it: a two-letter ISO 639-1 code becomes its three-letter codes, and a
// three-letter code also matches its bibliographic/terminology twin.
func languageCodes(lang string) ([]string, error) {
	l := strings.ToLower(strings.TrimSpace(lang))
	if l == "" {
		return nil, nil
	}
	for _, r := range l {
		if r < 'a' || r > 'z' {
			return nil, fmt.Errorf("%w: language %q: want an ISO 639 code such as \"eng\" or \"en\"", ErrInvalidOption, lang)
		}
	}
	switch len(l) {
	case 2:
		codes, ok := iso639[l]
		if !ok {
			return nil, fmt.Errorf("%w: language %q: unknown ISO 639-1 code; use the three-letter ISO 639-2 code", ErrInvalidOption, lang)
		}
		return codes, nil
	case 3:
		for _, codes := range iso639 {
			for _, c := range codes {
				if c == l {
					return codes, nil
				}
			}
		}
		return []string{l}, nil
	}
	return nil, fmt.Errorf("%w: language %q: want an ISO 639 code such as \"eng\" or \"en\"", ErrInvalidOption, lang)
}

// chooseAudio picks the audio stream of one program: the first supported
// stream in a wanted language, else the first supported stream. Streams for
// the visually impaired (audio description) come after the others. If no
// stream is supported it returns the first unsupported audio stream with
// ok == false; with no audio at all, found is false.
func chooseAudio(streams []esInfo, want []string) (pick esInfo, found, ok bool) {
	best, bestRank := -1, 0
	firstUnsupported := -1
	for i, es := range streams {
		switch es.kind {
		case esUnsupported:
			if firstUnsupported < 0 || (matchLang(es.langs, want) && !matchLang(streams[firstUnsupported].langs, want)) {
				firstUnsupported = i
			}
			continue
		case esOther:
			continue
		}
		rank := 1
		if matchLang(es.langs, want) {
			rank += 2
		}
		if es.audioType != audioTypeVisualImpaired {
			rank++
		}
		if rank > bestRank {
			best, bestRank = i, rank
		}
	}
	if best >= 0 {
		return streams[best], true, true
	}
	if firstUnsupported >= 0 {
		return streams[firstUnsupported], true, false
	}
	return esInfo{}, false, false
}

func matchLang(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
