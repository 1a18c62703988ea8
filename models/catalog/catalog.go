// Package catalog is subtitled's built-in list of recommended public streaming
// English models and the code that installs them: `subtitled model pull`
// downloads a release tarball (resuming an interrupted download), checks its
// sha256, unpacks it safely into a temporary directory and renames it into
// place, so a model directory is either complete or absent.
//
// The catalogue only names upstream release assets; nothing here runs a model.
package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinel errors callers branch on; Pull and Lookup wrap them with %w.
var (
	// ErrUnknownModel: the name is not in the catalogue.
	ErrUnknownModel = errors.New("unknown model")
	// ErrNoChecksum: no sha256 is pinned or given and unverified installs were not allowed.
	ErrNoChecksum = errors.New("no sha256 checksum")
	// ErrChecksum: the downloaded file's sha256 differs from the expected one.
	ErrChecksum = errors.New("sha256 mismatch")
	// ErrExists: the model directory already exists and Force was not set.
	ErrExists = errors.New("model directory already exists")
	// ErrUnsafeArchive: the archive holds an entry that would land outside the
	// model directory, an unsupported entry type, or more data than allowed.
	ErrUnsafeArchive = errors.New("unsafe archive")
	// ErrFormat: the file is not a .tar.bz2, .tar.gz or .tar archive.
	ErrFormat = errors.New("unsupported archive format")
	// ErrSize: the server's file is not the size the catalogue expects, or
	// larger than the download limit.
	ErrSize = errors.New("download size differs from the expected size")
	// ErrBusy: another pull of the same model into the same directory is running.
	ErrBusy = errors.New("another pull of this model is in progress")
)

// Entry is one downloadable model: a catalogue entry, or an ad-hoc URL.
type Entry struct {
	// Name is the catalogue name and the name of the installed directory.
	Name string
	// Package is the upstream package name (the archive's file name without
	// its extension); Lookup accepts it as well as Name.
	Package string
	// URL of the release tarball (.tar.bz2, .tar.gz or .tar).
	URL string
	// SHA256 is the expected lower-case hex digest of the whole archive;
	// empty when none is pinned.
	SHA256 string
	// Size is the archive's exact size in bytes when known, else 0.
	Size int64
	// Family is the recognizer family (MODEL-CONTRACT.md §0).
	Family string
	// Licence of the model weights.
	Licence string
	// Description is one line for `model list`.
	Description string
}

// Pinned reports whether the entry carries an expected sha256.
func (e Entry) Pinned() bool { return e.SHA256 != "" }

// UpstreamBase is the sherpa-onnx release directory the catalogue's URLs point into.
const UpstreamBase = "https://github.com/k2-fsa/sherpa-onnx/releases/download/asr-models/"

// builtin is the catalogue (MODEL-CONTRACT.md §5 and §6).
//
// Checksums: this repository was written without internet access, so no
// archive was downloaded here. Each pinned sha256 was found published for that
// exact release asset in several independent public repositories (searched by
// digest in a public GitHub code index), and they agree with each other and
// with the byte size. A wrong pin can only make `pull` refuse to install, never
// install something unverified. Replace a pin only with a digest you computed
// from the upstream asset yourself.
var builtin = []Entry{
	{
		Name:    "zipformer-en-2023-06-26",
		Package: "sherpa-onnx-streaming-zipformer-en-2023-06-26",
		// sha256 and size 310 414 022: published beside this URL in nine
		// public files, among them a PowerShell installer ($ExpectedSha256), a
		// Rust spec (archive_sha256, archive_bytes 310_414_022), a Rust
		// constant ("GitHub release asset digest verified on 2026-07-24"), a
		// Kotlin model list ("URL/sha256 verified 2026-07-04 by downloading the
		// exact asset and hashing it locally"), a PowerShell manifest ("measured
		// by downloading the file and hashing it on 2026-08-13", Bytes =
		// 310414022), a Go model catalogue (Digest field) and a Python ModelSpec.
		SHA256:      "639e25b578e9e997131402199419c13a941f8e4e198e2da1ce57dbf5cf401282",
		Size:        310_414_022,
		Family:      "icefall zipformer2 transducer",
		Licence:     "Apache-2.0",
		Description: "LibriSpeech 960 h (read speech); int8 encoder 68 MB; LS WER 3.06/7.79 at 320 ms; lower-case, no punctuation",
	},
	{
		Name:    "zipformer-en-2023-06-21",
		Package: "sherpa-onnx-streaming-zipformer-en-2023-06-21",
		// sha256 and size 506 956 414: published for this URL in five public
		// files: a shell script that pipes it to `shasum -a 256 -c`, a bash
		// setup script (streaming_model_sha), a Python constant
		// (SHERPA_LIBRI_GIGA_ARCHIVE_SHA256) and two provenance documents that
		// record the archive as "506,956,414 bytes, SHA-256 455f40e5…".
		SHA256:      "455f40e556aa2b20ac9d3bffd603b58002075c1193b4070938540c11efe0a4da",
		Size:        506_956_414,
		Family:      "icefall zipformer (v1) transducer",
		Licence:     "Apache-2.0",
		Description: "LibriSpeech + GigaSpeech; best CPU pick (int8 encoder 179 MB, RTF 0.06 on 2 threads); GigaSpeech WER 12.0; lower-case",
	},
	{
		Name:    "nemotron-en-560ms-int8",
		Package: "sherpa-onnx-nemotron-speech-streaming-en-0.6b-560ms-int8-2026-04-25",
		// sha256 and size 463 945 051: published for this URL in ten public
		// files, among them a Dockerfile that checks it with
		// `sha256sum -c`, an evaluation report ("Artifact SHA-256 values above
		// matched before extraction", 463,945,051 bytes), a Kotlin downloader
		// (ARCHIVE_SHA256, ARCHIVE_SIZE = 463_945_051L), a Rust model config, a
		// C# download descriptor and a Python catalogue of sherpa assets.
		SHA256:      "78e2b79fcf7271553a74402a76b771b09ea40117a39566a79f52235b23db6358",
		Size:        463_945_051,
		Family:      "NeMo cache-aware FastConformer RNNT",
		Licence:     "NVIDIA Open Model License",
		Description: "Nemotron Speech Streaming 0.6B, 560 ms chunks, int8 (CPU); cased and punctuated; recommended default",
	},
}

func init() {
	for i := range builtin {
		builtin[i].URL = UpstreamBase + builtin[i].Package + ".tar.bz2"
	}
}

// Entries returns a copy of the built-in catalogue, in display order.
func Entries() []Entry {
	return append([]Entry(nil), builtin...)
}

// Lookup finds a catalogue entry by its Name or its upstream Package name
// (with or without a .tar.bz2 suffix).
func Lookup(name string) (Entry, error) {
	n := strings.TrimSuffix(name, ".tar.bz2")
	for _, e := range builtin {
		if e.Name == n || e.Package == n {
			return e, nil
		}
	}
	names := make([]string, len(builtin))
	for i, e := range builtin {
		names[i] = e.Name
	}
	return Entry{}, fmt.Errorf("%w %q (known: %s; or give --url)", ErrUnknownModel, name, strings.Join(names, ", "))
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseSHA256 normalises a hex sha256 digest (case-insensitive, optionally
// prefixed "sha256:") and checks it is 64 hex digits.
func ParseSHA256(s string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	h = strings.TrimPrefix(h, "sha256:")
	if !hexSHA256.MatchString(h) {
		return "", fmt.Errorf("invalid sha256 %q: want 64 hex digits", s)
	}
	return h, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// ValidName reports whether name can be used as a model directory name: one
// path element of letters, digits, '.', '_', '+' and '-', not starting with
// a dot or dash, at most 200 bytes.
func ValidName(name string) bool {
	return len(name) <= 200 && validName.MatchString(name)
}

// NameFromURL derives a model directory name from an archive URL: the last
// path element without .tar.bz2, .tbz2, .tar.gz, .tgz or .tar.
func NameFromURL(rawURL string) string {
	u := rawURL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimRight(u, "/")
	if i := strings.LastIndex(u, "/"); i >= 0 {
		u = u[i+1:]
	}
	for _, ext := range []string{".tar.bz2", ".tbz2", ".tar.gz", ".tgz", ".tar"} {
		if strings.HasSuffix(u, ext) {
			return strings.TrimSuffix(u, ext)
		}
	}
	return u
}
