package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// The tests expect the file's values, not the caller's overrides.
	for _, name := range []string{EnvListen, EnvLogLevel, EnvLogFormat} {
		os.Unsetenv(name)
	}
	os.Exit(m.Run())
}

// minimal is the smallest valid config.
const minimal = `
channels:
  - id: a
    language: en
    input: {url: in.ts}
    outputs:
      - websocket: {}
`

// flat renders each error as "line:path: msg".
func flat(t *testing.T, err error) []string {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T) is not Errors", err, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%d:%s: %s", e.Line, e.Path, e.Msg)
	}
	return out
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefaultsApplied(t *testing.T) {
	c := mustParse(t, minimal)
	if c.Listen != "127.0.0.1:8080" || c.ShutdownTimeout != 10*time.Second {
		t.Errorf("listen %q shutdown_timeout %v", c.Listen, c.ShutdownTimeout)
	}
	if c.Log != (Log{Level: "info", Format: "text"}) {
		t.Errorf("log %+v", c.Log)
	}
	if c.HTTP.ReadHeaderTimeout != 5*time.Second || c.HTTP.MaxHeaderBytes != 64*KiB {
		t.Errorf("http %+v", c.HTTP)
	}
	if !c.Metrics.Enabled || c.Metrics.Path != "/metrics" {
		t.Errorf("metrics %+v", c.Metrics)
	}
	ch := c.Channel("a")
	if ch == nil {
		t.Fatal("channel a missing")
	}
	if ch.Name != "a" || ch.Model != DemoModel {
		t.Errorf("name %q model %q", ch.Name, ch.Model)
	}
	if !reflect.DeepEqual(ch.Captions, DefaultCaptions()) {
		t.Errorf("captions %+v, want %+v", ch.Captions, DefaultCaptions())
	}
	if ch.Input.MaxLag != 5*time.Second || ch.Input.StallTimeout != 2*time.Second ||
		ch.Input.Reconnect != (Backoff{500 * time.Millisecond, 10 * time.Second}) {
		t.Errorf("input %+v", ch.Input)
	}
	if ch.Input.AudioLanguage != "eng" {
		t.Errorf("audio_language %q, want eng from the channel language", ch.Input.AudioLanguage)
	}
	if ch.Restart != (Backoff{time.Second, time.Minute}) {
		t.Errorf("restart %+v", ch.Restart)
	}
	ws := ch.Outputs[0].WebSocket
	if ws == nil || ws.RingSize != 512 || ws.MaxClients != 1000 || ws.Queue != 256 ||
		!reflect.DeepEqual(ws.Tracks, []string{"verbatim", "subtitle"}) {
		t.Errorf("websocket %+v", ws)
	}
	m, ok := c.Model(ch.Model)
	if !ok || !m.Embedded() || m.MaxBatch != 16 || m.BatchWait != 10*time.Millisecond || m.Device != "cpu" {
		t.Errorf("demo model %+v %v", m, ok)
	}
	if got := c.UsedModels(); !reflect.DeepEqual(got, []string{DemoModel}) {
		t.Errorf("UsedModels %v", got)
	}
	if c.Source() != "test.yaml" {
		t.Errorf("Source %q", c.Source())
	}
}

func TestOutputDefaults(t *testing.T) {
	c := mustParse(t, `
channels:
  - id: a
    language: de
    input: {url: "udp://:5000"}
    captions: {tracks: [verbatim]}
    outputs:
      - file: {path: out/a.srt}
      - file: {path: out/a.captions.jsonl}
      - ts: {url: out/a.ts}
      - ts:
          url: http
          teletext: {page: "899", pid: 0x1ff, language: GER}
  - id: b
    language: fr
    input: {url: "-"}
    outputs:
      - ts: {url: "udp://239.0.0.1:1234", iface: eth0}
      - websocket:
`)
	a := c.Channels[0]
	if f := a.Outputs[0].File; f.Format != "srt" || f.Track != "verbatim" {
		t.Errorf("file 0 %+v", f)
	}
	if f := a.Outputs[1].File; f.Format != "json" {
		t.Errorf("file 1 %+v", f)
	}
	ts := a.Outputs[2].TS
	want := DefaultTSOutput()
	want.URL, want.Track, want.Teletext.Language = "out/a.ts", "verbatim", "deu"
	if !reflect.DeepEqual(*ts, want) {
		t.Errorf("ts %+v\nwant %+v", *ts, want)
	}
	tt := a.Outputs[3].TS.Teletext
	if tt.Page != 899 || tt.PID != 0x1FF || tt.Language != "ger" {
		t.Errorf("teletext %+v", tt)
	}
	if tt.Page.Magazine() != 8 || tt.Page.Number() != 0x99 {
		t.Errorf("page 899: magazine %d number %#x", tt.Page.Magazine(), tt.Page.Number())
	}
	d, err := a.Outputs[3].TS.Destination(a.ID)
	if err != nil || d.Kind != DestHTTP || d.Path != "/v1/channels/a/ts" {
		t.Errorf("destination %+v %v", d, err)
	}
	b := c.Channels[1]
	if b.Outputs[0].TS.Track != "subtitle" || b.Outputs[0].TS.Teletext.Language != "fra" {
		t.Errorf("ts b %+v", b.Outputs[0].TS)
	}
	if b.Outputs[1].WebSocket == nil || b.Outputs[1].WebSocket.Queue != 256 {
		t.Errorf("a null websocket output must get the defaults: %+v", b.Outputs[1])
	}
	if b.Outputs[0].Kind() != "ts" || b.Outputs[1].Kind() != "websocket" {
		t.Errorf("kinds %q %q", b.Outputs[0].Kind(), b.Outputs[1].Kind())
	}
}

func TestDefaultsSection(t *testing.T) {
	// defaults may come after channels; lists and maps replace the default.
	c := mustParse(t, `
models:
  big: {path: /m/big, device: cuda}
channels:
  - id: a
    input: {url: a.ts}
    outputs: [{websocket: {}}]
  - id: b
    language: sv
    model: demo-en
    input: {url: b.ts}
    captions:
      max_lines: 3
      subtitle:
        replacements: {a: b}
        word_filter: {words: [x]}
    outputs: [{websocket: {}}]
defaults:
  language: en
  model: big
  captions:
    max_chars_per_line: 37
    mode: roll-up
    subtitle:
      fillers: false
      replacements: {colour: color, centre: center}
      word_filter: {words: [darn], mode: remove}
`)
	a, b := c.Channels[0], c.Channels[1]
	if a.Language != "en" || a.Model != "big" || b.Language != "sv" || b.Model != DemoModel {
		t.Errorf("a %s/%s b %s/%s", a.Language, a.Model, b.Language, b.Model)
	}
	if a.Captions.MaxCharsPerLine != 37 || a.Captions.Mode != "roll-up" || a.Captions.MaxLines != 2 {
		t.Errorf("a captions %+v", a.Captions)
	}
	if b.Captions.MaxCharsPerLine != 37 || b.Captions.MaxLines != 3 || b.Captions.Subtitle.Fillers {
		t.Errorf("b captions %+v", b.Captions)
	}
	if !reflect.DeepEqual(b.Captions.Subtitle.Replacements, map[string]string{"a": "b"}) {
		t.Errorf("b replacements %v: a channel's map replaces the default", b.Captions.Subtitle.Replacements)
	}
	if b.Captions.Subtitle.WordFilter.Mode != "remove" || !reflect.DeepEqual(b.Captions.Subtitle.WordFilter.Words, []string{"x"}) {
		t.Errorf("b word filter %+v", b.Captions.Subtitle.WordFilter)
	}
	// Channels must not share the defaults' maps and slices.
	a.Captions.Subtitle.Replacements["colour"] = "changed"
	a.Captions.Tracks[0] = "changed"
	if c.Defaults.Captions.Subtitle.Replacements["colour"] != "color" || c.Defaults.Captions.Tracks[0] != "verbatim" {
		t.Error("channel captions alias the defaults")
	}
	if m := c.Models["big"]; m.Device != "cuda:0" || m.MaxBatch != 16 || m.Beam != 4 {
		t.Errorf("model big %+v", m)
	}
	if got := c.UsedModels(); !reflect.DeepEqual(got, []string{"big", DemoModel}) {
		t.Errorf("UsedModels %v", got)
	}
}

func TestAliasesAndMerge(t *testing.T) {
	c := mustParse(t, `
x-out: &out
  - websocket: {queue: 8}
x-caps: &caps
  max_lines: 1
  mode: roll-up
channels:
  - id: a
    language: en
    input: {url: a.ts}
    captions:
      <<: *caps
      mode: pop-on
    outputs: *out
`)
	cp := c.Channels[0].Captions
	if cp.MaxLines != 1 || cp.Mode != "pop-on" || cp.MaxCharsPerLine != 42 {
		t.Errorf("merged captions %+v", cp)
	}
	if ws := c.Channels[0].Outputs[0].WebSocket; ws == nil || ws.Queue != 8 || ws.RingSize != 512 {
		t.Errorf("aliased outputs %+v", c.Channels[0].Outputs)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level key", "listn: x\n" + minimal,
			[]string{`1:listn: unknown key (did you mean "listen"?)`}},
		{"unknown key without suggestion", "frobnicate: 1\n" + minimal,
			[]string{`1:frobnicate: unknown key (valid keys: listen, log, http, shutdown_timeout, state_dir, metrics, websocket, whip, limits, models, defaults, channels)`}},
		{"unknown key depth 3", "http:\n  tls:\n    certs: a.pem\n" + minimal,
			[]string{`3:http.tls.certs: unknown key (did you mean "cert"?)`}},
		{"unknown key in channel input", `
channels:
  - id: a
    language: en
    input:
      urll: a.ts
    outputs: [{websocket: {}}]
`, []string{
			`5:channels[0].input.url: required`,
			`6:channels[0].input.urll: unknown key (did you mean "url"?)`,
		}},
		{"unknown key depth 6", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs:
      - ts:
          url: out.ts
          teletext:
            pgae: 888
`, []string{`10:channels[0].outputs[0].ts.teletext.pgae: unknown key (did you mean "page"?)`}},
		{"unknown key in a model", "models:\n  m:\n    path: /m\n    Device: cpu\n" + minimal,
			[]string{`4:models.m.Device: unknown key (did you mean "device"?)`}},
		{"unknown output kind", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs:
      - websockets: {}
`, []string{
			`7:channels[0].outputs[0].websockets: unknown key (did you mean "websocket"?)`,
			`7:channels[0].outputs[0]: want exactly one of websocket, file, ts`,
		}},
		{"two output kinds", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs:
      - websocket: {}
        file: {path: a.vtt}
`, []string{`7:channels[0].outputs[0]: want exactly one of websocket, file, ts (got websocket, file)`}},
		{"duplicate channel id", `
channels:
  - id: news
    language: en
    input: {url: a.ts}
    outputs: [{websocket: {}}]
  - id: news
    language: en
    input: {url: b.ts}
    outputs: [{websocket: {}}]
`, []string{`7:channels[1].id: duplicate id "news" (also channels[0])`}},
		{"bad channel id", `
channels:
  - id: News
    language: en
    input: {url: a.ts}
    outputs: [{websocket: {}}]
`, []string{`3:channels[0].id: invalid id "News" (want 1 to 64 of a-z 0-9 _ -)`}},
		{"duration without unit", "shutdown_timeout: 10\n" + minimal,
			[]string{`1:shutdown_timeout: want a duration with a unit such as "10ms" or "5s", got 10`}},
		{"bad duration", `
channels:
  - id: a
    language: en
    input: {url: a.ts, max_lag: 5 s}
    outputs: [{websocket: {}}]
`, []string{`5:channels[0].input.max_lag: invalid duration "5 s" (want a Go duration such as "500ms", "5s", "1m30s")`}},
		{"negative duration", "shutdown_timeout: -1s\n" + minimal,
			[]string{`1:shutdown_timeout: -1s is out of range (want 100ms..10m0s)`}},
		{"unknown model", "models:\n  big: {path: /m}\n" + strings.Replace(minimal, "language: en", "language: en\n    model: small", 1),
			[]string{`7:channels[0].model: unknown model "small" (want one of: big, demo-en)`}},
		{"bad url scheme", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs: [{websocket: {}}]
  - id: b
    language: en
    input: {url: b.ts}
    outputs: [{websocket: {}}]
  - id: c
    language: en
    input: {url: "ftp://example.com/c.ts"}
    outputs: [{websocket: {}}]
`, []string{`13:channels[2].input.url: unsupported scheme "ftp" (want file, udp, http, https, stdin, whip)`}},
		{"missing required keys", `
models:
  m: {}
channels:
  - language: en
    input: {}
    outputs:
      - file: {}
`, []string{
			`3:models.m.path: required (a model bundle directory)`,
			`5:channels[0].id: required`,
			`6:channels[0].input.url: required`,
			`8:channels[0].outputs[0].file.path: required`,
		}},
		{"no channels", "listen: :9000\n", []string{`0:channels: at least one channel is required`}},
		{"missing language and outputs", `
channels:
  - id: a
    input: {url: a.ts}
`, []string{
			`3:channels[0].language: required (an ISO 639-1 or 639-2 code such as "en")`,
			`3:channels[0].outputs: at least one output is required (websocket, file or ts)`,
		}},
		{"unknown language", strings.Replace(minimal, "language: en", "language: xx", 1),
			[]string{`4:channels[0].language: unknown language "xx" (want an ISO 639-1 or 639-2 code such as "en" or "deu")`}},
		{"out of range numbers", `
models:
  m: {path: /m, max_batch: 0, device: gpu, decoding: sample}
channels:
  - id: a
    language: en
    input: {url: a.ts, audio_pid: 8191}
    captions: {max_lines: 5, max_chars_per_line: 4}
    outputs:
      - ts: {url: "udp://239.0.0.1:70000", ttl: 300, packets_per_datagram: 8}
`, []string{
			`3:models.m.device: invalid device "gpu" (want cpu or cuda:N)`,
			`3:models.m.max_batch: 0 is out of range (want 1..1024)`,
			`3:models.m.decoding: unknown value "sample" (want greedy, beam)`,
			`7:channels[0].input.audio_pid: 8191 is out of range (want 0 for automatic, or 16..8190)`,
			`8:channels[0].captions.max_chars_per_line: 4 is out of range (want 8..200)`,
			`8:channels[0].captions.max_lines: 5 is out of range (want 1..4)`,
			`10:channels[0].outputs[0].ts.url: "udp://239.0.0.1:70000": port "70000" must be 1..65535`,
			`10:channels[0].outputs[0].ts.ttl: 300 is out of range (want 1..255)`,
			`10:channels[0].outputs[0].ts.packets_per_datagram: 8 is out of range (want 1..7)`,
		}},
		{"teletext page with a hex digit", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs:
      - ts: {url: out.ts, teletext: {page: 8A0}}
`, []string{`7:channels[0].outputs[0].ts.teletext.page: invalid teletext page "8A0" (want 100..899: magazine 1-8 then two decimal digits)`}},
		{"teletext page 900", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs:
      - ts: {url: out.ts, teletext: {page: 900}}
`, []string{`7:channels[0].outputs[0].ts.teletext.page: invalid teletext page "900" (want 100..899: magazine 1-8 then two decimal digits)`}},
		{"teletext page 099", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs:
      - ts: {url: out.ts, teletext: {page: "099", pid: 8191}}
`, []string{
			`7:channels[0].outputs[0].ts.teletext.page: invalid teletext page "099" (want 100..899: magazine 1-8 then two decimal digits)`,
			`7:channels[0].outputs[0].ts.teletext.pid: 8191 is out of range (want 0 for automatic, or 16..8190)`,
		}},
		{"wrong value types", `
channels:
  - id: [a]
    language: en
    input: {url: a.ts, realtime: yes, program: many}
    captions: {tracks: verbatim}
    outputs: {websocket: {}}
`, []string{
			`3:channels[0].id: want a string, got a list`,
			`5:channels[0].input.realtime: want true or false, got "yes"`,
			`5:channels[0].input.program: want an integer, got "many"`,
			`6:channels[0].captions.tracks: want a list, got "verbatim"`,
			`7:channels[0].outputs: want a list, got a mapping`,
		}},
		{"integer overflow", "websocket: {max_clients: 99999999999999999999}\n" + minimal,
			[]string{`1:websocket.max_clients: want an integer, got 99999999999999999999`}},
		{"bad size", "limits: {pes_max_bytes: 12 parsecs}\n" + minimal,
			[]string{`1:limits.pes_max_bytes: invalid size "12 parsecs" (want bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB)`}},
		{"duplicate key", "listen: :1\nlisten: :2\n" + minimal,
			[]string{`2:listen: duplicate key (first at line 1)`}},
		{"syntax error", "listen: [\n", []string{`1:: did not find expected node content`}},
		{"not a mapping", "- a\n- b\n", []string{`1:: want a mapping, got a list`}},
		{"two documents", minimal + "---\nlisten: :1\n", []string{`8:: only one YAML document is allowed`}},
		{"tracks", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    captions: {tracks: [verbatim, verbatim, closed]}
    outputs:
      - websocket: {tracks: [subtitle]}
      - file: {path: a.vtt, track: subtitle}
`, []string{
			`6:channels[0].captions.tracks[1]: track "verbatim" listed twice`,
			`6:channels[0].captions.tracks[2]: unknown value "closed" (want verbatim, subtitle)`,
			`8:channels[0].outputs[0].websocket.tracks[0]: track "subtitle" is not in channels[0].captions.tracks`,
			`9:channels[0].outputs[1].file.track: track "subtitle" is not in channels[0].captions.tracks`,
		}},
		{"file format", `
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs:
      - file: {path: a.txt}
      - file: {path: b.vtt, format: ass, timestamp_map: true}
      - file: {path: ./a.txt, format: srt, timestamp_map: true, rotate_size: 1KiB, rotate_interval: 1s}
`, []string{
			`7:channels[0].outputs[0].file.format: required: cannot tell the format from "a.txt" (want vtt, srt, ttml, json)`,
			`8:channels[0].outputs[1].file.format: unknown value "ass" (want vtt, srt, ttml, json)`,
			`8:channels[0].outputs[1].file.timestamp_map: only valid for the vtt format`,
			`9:channels[0].outputs[2].file.path: "./a.txt" is also written by channels[0].outputs[0].file`,
			`9:channels[0].outputs[2].file.rotate_size: 1KiB is out of range (want 64KiB..1024GiB)`,
			`9:channels[0].outputs[2].file.rotate_interval: 1s is out of range (want 1m0s..8784h0m0s)`,
			`9:channels[0].outputs[2].file.timestamp_map: only valid for the vtt format`,
		}},
		{"input options by kind", `
channels:
  - id: a
    language: en
    input: {url: "udp://239.1.1.1:5000", realtime: true, loop: true}
    outputs: [{websocket: {}}]
  - id: b
    language: en
    input: {url: whip, program: 2, audio_pid: 256, audio_language: eng}
    whip: {token: t}
    outputs:
      - ts: {url: b.ts}
  - id: c
    language: en
    input: {url: c.ts}
    whip: {token: t}
    outputs: [{websocket: {}}]
`, []string{
			`5:channels[0].input.realtime: only valid for file inputs`,
			`5:channels[0].input.loop: only valid for file inputs`,
			`9:channels[1].input.program: not valid for a whip input`,
			`9:channels[1].input.audio_pid: not valid for a whip input`,
			`9:channels[1].input.audio_language: not valid for a whip input`,
			`12:channels[1].outputs[0].ts: needs an MPEG-TS input (input is whip)`,
			`16:channels[2].whip: only valid when input.url is whip`,
		}},
		{"whip without token", `
channels:
  - id: a
    language: en
    input: {url: whip}
    outputs: [{websocket: {}}]
`, []string{`3:channels[0].whip.token: required for a whip input (set token or token_env)`}},
		{"token and token_env", `
channels:
  - id: a
    language: en
    input: {url: whip}
    whip: {token: t, token_env: SUBTITLED_TEST_TOKEN, video: drop}
    outputs: [{websocket: {}}]
`, []string{
			`6:channels[0].whip.token_env: token and token_env are mutually exclusive`,
			`6:channels[0].whip.video: unknown value "drop" (want ignore, reject)`,
		}},
		{"token_env not set", "http: {reload_token_env: SUBTITLED_TEST_UNSET}\n" + minimal,
			[]string{`1:http.reload_token_env: environment variable SUBTITLED_TEST_UNSET is not set`}},
		{"stdin twice, udp port twice", `
channels:
  - id: a
    language: en
    input: {url: "-"}
    outputs: [{websocket: {}}]
  - id: b
    language: en
    input: {url: stdin}
    outputs: [{websocket: {}}]
  - id: c
    language: en
    input: {url: "udp://:5000"}
    outputs: [{ts: {url: "udp://239.9.9.9:1000"}}]
  - id: d
    language: en
    input: {url: "udp://0.0.0.0:5000"}
    outputs: [{ts: {url: "udp://239.9.9.9:1000"}}]
  - id: e
    language: en
    input: {url: "udp://:5000"}
    outputs: [{ts: {url: http}}, {ts: {url: http}}]
`, []string{
			`9:channels[1].input.url: stdin is already the input of channels[0]`,
			`18:channels[3].outputs[0].ts.url: udp destination 239.9.9.9:1000 is also used by channels[2].outputs[0].ts`,
			`21:channels[4].input.url: udp port 5000 is already bound by channels[2]`,
			`22:channels[4].outputs[1].ts.url: a channel serves at most one ts output over http (also channels[4].outputs[0].ts)`,
		}},
		{"bad defaults reported once", `
defaults: {language: english, model: nope}
channels:
  - id: a
    input: {url: a.ts}
    outputs: [{websocket: {}}]
  - id: b
    language: english
    model: nope
    input: {url: b.ts}
    outputs: [{websocket: {}}]
`, []string{
			`2:defaults.language: unknown language "english" (want an ISO 639-1 or 639-2 code such as "en" or "deu")`,
			`2:defaults.model: unknown model "nope" (want one of: demo-en)`,
			`8:channels[1].language: unknown language "english" (want an ISO 639-1 or 639-2 code such as "en" or "deu")`,
			`9:channels[1].model: unknown model "nope" (want one of: demo-en)`,
		}},
		{"defaults error reported once", `
defaults:
  captions: {max_lines: 9}
channels:
  - id: a
    language: en
    input: {url: a.ts}
    outputs: [{websocket: {}}]
  - id: b
    language: en
    input: {url: b.ts}
    captions: {max_lines: 8}
    outputs: [{websocket: {}}]
`, []string{
			`3:defaults.captions.max_lines: 9 is out of range (want 1..4)`,
			`12:channels[1].captions.max_lines: 8 is out of range (want 1..4)`,
		}},
		{"server settings", `
listen: "nohost"
log: {level: verbose, format: xml}
http: {tls: {cert: c.pem}, max_header_bytes: 10}
metrics: {path: metrics}
websocket: {allowed_origins: ["https://ok.example", "ftp://x", "*"], max_clients: 5, max_clients_per_ip: 6, ping_interval: 1m, pong_timeout: 30s}
whip: {ice: {udp_port_min: 100, nat_1to1_ips: [1.2.3.4, bad], stun_servers: ["stun:s.example:3478", "turn:x"], interfaces: [""]}}
` + minimal, []string{
			`2:listen: invalid address "nohost" (want host:port): missing port in address`,
			`3:log.level: unknown value "verbose" (want debug, info, warn, error)`,
			`3:log.format: unknown value "xml" (want text, json)`,
			`4:http.max_header_bytes: 10 is out of range (want 1KiB..16MiB)`,
			`4:http.tls.key: required when http.tls.cert is set`,
			`5:metrics.path: "metrics" must start with /`,
			`6:websocket.allowed_origins[1]: invalid origin "ftp://x" (want "*" or scheme://host[:port])`,
			`6:websocket.max_clients_per_ip: 6 exceeds websocket.max_clients (5)`,
			`6:websocket.pong_timeout: 30s must be longer than websocket.ping_interval (1m0s)`,
			`7:whip.ice.udp_port_min: set both udp_port_min and udp_port_max, or neither`,
			`7:whip.ice.nat_1to1_ips[1]: invalid IP address "bad"`,
			`7:whip.ice.stun_servers[1]: invalid STUN server "turn:x" (want stun:host[:port])`,
			`7:whip.ice.interfaces[0]: invalid interface name ""`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "test.yaml")
			if err == nil {
				t.Fatal("Parse accepted the config")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) is false for %v", err)
			}
			got := flat(t, err)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestErrorFormatting(t *testing.T) {
	_, err := Parse([]byte("listn: x\n"+minimal), "/etc/subtitled/subtitled.yaml")
	want := `/etc/subtitled/subtitled.yaml:1: listn: unknown key (did you mean "listen"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Path != "listn" || ve.Line != 1 {
		t.Errorf("errors.As gave %+v", ve)
	}
	e := &ValidationError{Path: "channels", Msg: "m"}
	if e.Error() != "channels: m" {
		t.Errorf("%q", e.Error())
	}
	e = &ValidationError{Line: 3, Path: "a.b", Msg: "m"}
	if e.Error() != "line 3: a.b: m" {
		t.Errorf("%q", e.Error())
	}
}

func TestEnv(t *testing.T) {
	t.Setenv(EnvListen, "0.0.0.0:9999")
	t.Setenv(EnvLogLevel, "debug")
	t.Setenv("SUBTITLED_TEST_WHIP", "s3cret")
	t.Setenv("SUBTITLED_TEST_RELOAD", "r3load")
	c := mustParse(t, `
listen: 127.0.0.1:1
http: {reload_token_env: SUBTITLED_TEST_RELOAD}
channels:
  - id: a
    language: en
    input: {url: whip}
    whip: {token_env: SUBTITLED_TEST_WHIP}
    outputs: [{websocket: {}}]
`)
	if c.Listen != "0.0.0.0:9999" || c.Log.Level != "debug" {
		t.Errorf("listen %q level %q", c.Listen, c.Log.Level)
	}
	if got := c.Channels[0].WHIP.Bearer(); got != "s3cret" {
		t.Errorf("whip bearer %q", got)
	}
	if got := c.HTTP.ReloadBearer(); got != "r3load" {
		t.Errorf("reload bearer %q", got)
	}
	if c.WebSocket.Bearer() != "" {
		t.Errorf("websocket bearer %q", c.WebSocket.Bearer())
	}

	t.Setenv(EnvListen, "bad")
	_, err := Parse([]byte(minimal), "x.yaml")
	got := flat(t, err)
	want := []string{`0:listen: invalid address "bad" (want host:port): missing port in address (set by SUBTITLED_LISTEN)`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateBuiltInGo(t *testing.T) {
	c := Default()
	err := c.Validate()
	if got := flat(t, err); !reflect.DeepEqual(got, []string{"0:channels: at least one channel is required"}) {
		t.Errorf("Default().Validate() = %q", got)
	}
	ch := NewChannel(c.Defaults)
	ch.ID, ch.Language, ch.Input.URL = "x", "en", "x.ts"
	ch.Outputs = []Output{{File: &FileOutput{Path: "x.vtt"}}}
	c.Channels = append(c.Channels, ch)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if f := c.Channels[0].Outputs[0].File; f.Format != "vtt" || f.Track != "subtitle" {
		t.Errorf("normalize: %+v", f)
	}
	// A parsed config stays valid when validated again.
	p := mustParse(t, minimal)
	if err := p.Validate(); err != nil {
		t.Errorf("second Validate: %v", err)
	}
	p.Channels[0].Input.MaxLag = 0
	if got := flat(t, p.Validate()); !reflect.DeepEqual(got, []string{"5:channels[0].input.max_lag: 0s is out of range (want 500ms..5m0s)"}) {
		t.Errorf("after edit: %q", got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || c.Source() != path {
		t.Fatalf("Load: %v", err)
	}
	if err := os.WriteFile(path, []byte("bogus: 1\n"+minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1: bogus: unknown key") {
		t.Errorf("Load bad: %v", err)
	}
}

func TestEmptyDocument(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "~\n", "---\n"} {
		_, err := Parse([]byte(src), "e.yaml")
		got := flat(t, err)
		if !reflect.DeepEqual(got, []string{"0:channels: at least one channel is required"}) {
			t.Errorf("%q: %q", src, got)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	// 200 channels x 100 outputs x 100 tracks, from a document of a few KB.
	rep := func(alias string, n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(alias+", ", n), ", ") + "]"
	}
	src := "x-s: &s verbatim\n" +
		"x-o: &o {websocket: {tracks: " + rep("*s", 100) + "}}\n" +
		"x-c: &c {id: a, language: en, input: {url: a.ts}, outputs: " + rep("*o", 100) + "}\n" +
		"channels: " + rep("*c", 200) + "\n"
	_, err := Parse([]byte(src), "bomb.yaml")
	got := flat(t, err)
	if len(got) != 1 || !strings.Contains(got[0], "document too large") {
		t.Errorf("want only the node budget error, got %d errors: %.500q", len(got), got)
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("channels:\n")
	for i := 0; i < 150; i++ {
		b.WriteString("  - {id: x, language: en, input: {url: a.ts}, outputs: [{websocket: {}}]}\n")
	}
	_, err := Parse([]byte(b.String()), "many.yaml")
	got := flat(t, err)
	if len(got) != maxErrors+1 || got[maxErrors] != "0:: too many errors; only the first 100 are shown" {
		t.Errorf("%d errors, last %q", len(got), got[len(got)-1])
	}
}

func TestParseSource(t *testing.T) {
	good := []struct {
		in   string
		want string
	}{
		{"a.ts", "file a.ts"},
		{"/srv/a b.ts", "file /srv/a b.ts"},
		{"file:///srv/a.ts", "file /srv/a.ts"},
		{"file://localhost/srv/a.ts", "file /srv/a.ts"},
		{"name:with:colons.ts", "file name:with:colons.ts"},
		{"-", "stdin"},
		{"stdin", "stdin"},
		{"whip", "whip"},
		{"whip://", "whip"},
		{"http://h.example/a.ts", "http http://h.example/a.ts"},
		{"HTTPS://h.example:8443/a.ts?x=1", "http HTTPS://h.example:8443/a.ts?x=1"},
		{"udp://:5000", "udp invalid IP:5000 mc=false"},
		{"udp://@239.1.1.1:5000", "udp 239.1.1.1:5000 mc=true"},
		{"udp://10.0.0.1:1234", "udp 10.0.0.1:1234 mc=false"},
		{"udp://192.0.2.1@239.1.1.1:5000?iface=eth0", "udp 239.1.1.1:5000 mc=true src=192.0.2.1 iface=eth0"},
		{"udp://[ff3e::1]:5000", "udp ff3e::1:5000 mc=true"},
	}
	for _, g := range good {
		s, err := ParseSource(g.in)
		if err != nil {
			t.Errorf("%q: %v", g.in, err)
			continue
		}
		got := string(s.Kind)
		switch s.Kind {
		case SourceFile:
			got += " " + s.Path
		case SourceHTTP:
			got += " " + s.URL
		case SourceUDP:
			got += fmt.Sprintf(" %v:%d mc=%v", s.Host, s.Port, s.Multicast)
			if s.SourceAddr.IsValid() {
				got += " src=" + s.SourceAddr.String()
			}
			if s.Iface != "" {
				got += " iface=" + s.Iface
			}
		}
		if got != g.want {
			t.Errorf("%q: got %q, want %q", g.in, got, g.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "required"},
		{"ftp://x/y", `unsupported scheme "ftp" (want file, udp, http, https, stdin, whip)`},
		{"srt://x:1", `unsupported scheme "srt" (want file, udp, http, https, stdin, whip)`},
		{"file://host/x.ts", `file URL "file://host/x.ts" names host "host" (want file:///path)`},
		{"file:///", `file URL "file:///" has no path`},
		{"http:///x", `http URL "http:///x" has no host`},
		{"udp://239.1.1.1", `"udp://239.1.1.1" has no port`},
		{"udp://239.1.1.1:0", `"udp://239.1.1.1:0": port "0" must be 1..65535`},
		{"udp://host.example:5000", `udp host "host.example" must be an IP address`},
		{"udp://10.0.0.1@10.0.0.2:5000", `udp source 10.0.0.1 given but "10.0.0.2" is not a multicast group`},
		{"udp://239.0.0.9@239.1.1.1:5000", `udp source 239.0.0.9 must be a unicast address`},
		{"udp://10.0.0.1:5000?iface=eth0", `iface is only used with a multicast group, and "10.0.0.1" is not one`},
		{"udp://239.1.1.1:5000?ttl=3", `udp URL "udp://239.1.1.1:5000?ttl=3": unsupported parameter "ttl" (want iface)`},
		{"udp://239.1.1.1:5000/path", `udp URL "udp://239.1.1.1:5000/path": only udp://[source@]host:port[?iface=NAME] is allowed`},
		{"whip://x", `whip takes no address (write url: whip)`},
	}
	for _, b := range bad {
		_, err := ParseSource(b.in)
		if err == nil || err.Error() != b.want {
			t.Errorf("%q: got %v, want %s", b.in, err, b.want)
		}
	}
}

func TestParseDestination(t *testing.T) {
	d, err := ParseDestination("udp://[ff3e::2]:1234", "c")
	if err != nil || d.Kind != DestUDP || !d.Multicast || d.Port != 1234 {
		t.Errorf("%+v %v", d, err)
	}
	d, err = ParseDestination("file:///o/c.ts", "c")
	if err != nil || d.Kind != DestFile || d.Path != "/o/c.ts" {
		t.Errorf("%+v %v", d, err)
	}
	for _, b := range []struct{ in, want string }{
		{"", "required"},
		{"-", "stdout is not a daemon output (use subtitled mux)"},
		{"udp://0.0.0.0:5", "udp destination 0.0.0.0 is unspecified"},
		{"udp://239.1.1.1:5?ttl=2", `udp URL "udp://239.1.1.1:5?ttl=2": only udp://host:port is allowed (ttl and iface are keys of their own)`},
		{"rtp://239.1.1.1:5", `unsupported scheme "rtp" (want file, udp, or http)`},
	} {
		_, err := ParseDestination(b.in, "c")
		if err == nil || err.Error() != b.want {
			t.Errorf("%q: got %v, want %s", b.in, err, b.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{
		"0": 0, "65536": 65536, "64KiB": 64 * KiB, "10 MB": 10_000_000, "1gib": GiB, "7B": 7, "3kb": 3000,
	} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "MiB", "10 TB", "99999999999999999999", "9999999999GiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	for b, want := range map[ByteSize]string{0: "0", 1000: "1000", 2048: "2KiB", 3 * MiB: "3MiB", GiB: "1GiB"} {
		if b.String() != want {
			t.Errorf("%d: %q", int64(b), b.String())
		}
	}
}

func TestTeletextPage(t *testing.T) {
	for _, in := range []string{"100", "888", "899", "150"} {
		p, err := ParseTeletextPage(in)
		if err != nil || p.String() != in || !p.Valid() {
			t.Errorf("%q: %v %v", in, p, err)
		}
	}
	for _, in := range []string{"8A0", "88F", "8FF", "900", "099", "000", "1000", "88", "", " 888"} {
		if _, err := ParseTeletextPage(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if p := TeletextPage(100); p.Magazine() != 1 || p.Number() != 0x00 {
		t.Errorf("100: %d %#x", p.Magazine(), p.Number())
	}
}

func TestLanguageCodes(t *testing.T) {
	for in, want := range map[string]string{"en": "eng", "DE": "deu", "ger": "ger", "deu": "deu", "fr": "fra", "sv": "swe", "und": "und"} {
		if got, ok := LanguageCode3(in); !ok || got != want {
			t.Errorf("LanguageCode3(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]string{"en": "en", "ger": "de", "deu": "de", "fre": "fr", "spa": "es"} {
		if got, ok := LanguageCode2(in); !ok || got != want {
			t.Errorf("LanguageCode2(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "xx", "zzz", "english", "e"} {
		if _, ok := LanguageCode3(in); ok {
			t.Errorf("LanguageCode3(%q) accepted", in)
		}
	}
	if _, ok := LanguageCode2("ace"); ok {
		t.Error("ace has no ISO 639-1 code")
	}
}

func TestUnknownKeySuggestions(t *testing.T) {
	valid := []string{"url", "realtime", "ts", "page", "max_lines", "websocket"}
	for key, want := range map[string]string{
		"urll":       `unknown key (did you mean "url"?)`,
		"pgae":       `unknown key (did you mean "page"?)`,
		"URL":        `unknown key (did you mean "url"?)`,
		"max-lines":  `unknown key (did you mean "max_lines"?)`,
		"maxlines":   `unknown key (did you mean "max_lines"?)`,
		"realtiem":   `unknown key (did you mean "realtime"?)`,
		"id":         `unknown key (valid keys: url, realtime, ts, page, max_lines, websocket)`,
		"frobnicate": `unknown key (valid keys: url, realtime, ts, page, max_lines, websocket)`,
	} {
		if got := unknownKey(key, valid); got != want {
			t.Errorf("%q: %s, want %s", key, got, want)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	for p, want := range map[string]string{
		"channels[2].input.url":       "channels[2].input",
		"channels[2].input":           "channels[2]",
		"channels[2]":                 "channels",
		"channels":                    "",
		`models["a.b"].path`:          `models["a.b"]`,
		`models["a.b"]`:               "models",
		`x.replacements["q\"]"]`:      "x.replacements",
		"defaults.captions.tracks[0]": "defaults.captions.tracks",
	} {
		if got := parentPath(p); got != want {
			t.Errorf("parentPath(%q) = %q, want %q", p, got, want)
		}
	}
	if got := joinKey("models", "a.b"); got != `models["a.b"]` {
		t.Errorf("joinKey: %s", got)
	}
}
