// Package teletext encodes captions as DVB Teletext subtitles (EN 300 472
// PES carrying EN 300 706 packets) and decodes them again for tests.
//
// # Transport
//
// Each PES has stream_id 0xBD, the fixed 45-byte header (flags 0x84 0x80,
// PES_header_data_length 0x24: a PTS and 31 stuffing bytes) and a length of
// N×184 bytes, so it fills N transport packet payloads exactly. The payload
// is data_identifier 0x10 followed by 46-byte data units: data_unit_id 0x03
// (or 0x02), length 0x2C, field parity and line offset (lines 7–22 of the
// first field, then of the second), framing code 0xE4 and the 42-byte VBI
// packet with every byte bit-reversed. Stuffing units (0xFF) fill the rest.
// A PES is at most 8 TS packets (1472 bytes).
//
// # Pages
//
// Show builds, in one PES: the X/0 header of the subtitle page (888 by
// default) with C4 erase, C6 subtitle and C7 suppress header set and the
// national option in C12–C14; the X/26 enhancement packets; one row per
// line, double height, white, boxed and centred
// (spaces, 0D 07 0B 0B, text, 0A 0A, spaces) on rows 20 and 22 (22 alone
// for one line; more lines go up in steps of two rows, at most MaxRows);
// and the header of page xFF of the same magazine, which ends the page so
// that decoders (libzvbi, hence ffmpeg, VLC and GStreamer) display it at
// once. Clear builds the header with C4 and no rows, then the xFF header.
// Lines longer than MaxLineCells (34) are wrapped at the last space that
// fits, or cut inside a word longer than a row.
//
// # Characters
//
// The channel language selects the G0 national option subset
// (LanguageSubset): English, German, French, Swedish/Finnish/Hungarian,
// Italian or Spanish/Portuguese (also Catalan and Galician); other languages
// use English. Czech and Slovak use English too: libzvbi (so ffmpeg, VLC and
// GStreamer) defaults to the West European/Turkish region, where their
// option decodes as Turkish. Each character of a line is sent as:
//
//  1. its G0 code, when the subset holds it;
//  2. else, for a letter with a diacritical mark, the base letter in the row
//     plus an X/26 triplet (mode 0x10|mark, data the base letter), which
//     Level 1.5 decoders show as the accented letter: all accented letters
//     of Latin-1 (À–ÿ except Æ Ð Ø Þ ß æ ð ø þ) and most of Latin
//     Extended-A;
//  3. else a character of the Latin G2 set (£ $ ¥ # § ¤ ¡ ¿ « » ‘ ’ “ ” °
//     ± ² ³ ¹ × ÷ µ ¶ · ¼ ½ ¾ ¨ ® © ™ ♪ ª º Æ Ð Ø Þ ß æ ð ø þ đ Œ œ Ł ł ı
//     Ħ ħ Ĳ ĳ Ŀ ŀ Ŋ ŋ Ŧ ŧ ĸ ŉ Ω — ← ↑ → ↓ ⅛ ⅜ ⅝ ⅞ ‰ ■ and the spacing
//     marks) as an X/26 triplet with mode 0x0F, with a close ASCII character
//     (or a space) in the row for Level 1 decoders;
//  4. else, for ASCII that the subset replaces (for example @ [ ] { } in
//     German) and for ¦, an X/26 triplet with mode 0x10 (G0 character
//     without diacritical mark), again with a stand-in in the row.
//
// Up to 208 triplets fit on a page (16 X/26 packets); characters beyond
// that show their Level 1 stand-in. Two full rows need at most 70.
//
// Everything else is replaced before layout (Replace applies exactly this,
// and Layout also wraps):
//
//	|                        → ¦   (no subset or G2 code has it)
//	no-break space, tab, other Unicode spaces → space
//	¬ ¯                      → -
//	´                        → '
//	¸                        → ,
//	‐ ‑ ‒ – −                → -
//	―                        → —
//	‚ ‛ ′                    → '
//	„ ‟ ″                    → "
//	‹ ›                      → < >
//	•                        → ·
//	…                        → ...
//	€                        → EUR
//	Đ                        → Ð   (the G2 glyph; libzvbi decodes it as Ð)
//	Ģ ģ Ķ ķ Ļ ļ Ņ ņ Ŗ ŗ Ť ť ĺ → G g K k L l N n R r T t l
//	                               (valid X/26 but missing from libzvbi 0.2.41;
//	                               ť is direct in the Czech subset)
//	combining marks          → composed with the preceding letter when the
//	                           result is listed above, else dropped
//	control and format characters (Cc, Cf such as the soft hyphen and
//	zero-width space, variation selectors) → dropped
//	anything else (other scripts, emoji, symbols) → ?
//
// # Decoding
//
// Decode reads a PES back into pages, and Page.Lines applies the national
// subset, double height and the X/26 enhancements the way a Level 1.5
// decoder does. Tests and fuzzing use it as the in-process oracle; ffmpeg
// (libzvbi) and GStreamer are the external ones. GStreamer 1.22's
// teletextdec cuts a row whose UTF-8 text, centring spaces included, is
// longer than about 40 bytes (measured: a centred row of 15 é loses its
// last letter); ffmpeg shows the same rows whole.
package teletext
