// Package config holds the one configuration of the subtitled daemon: the
// Config struct with its defaults, strict YAML loading (unknown keys are
// errors that name the key path and line), validation that reports every
// problem at once, environment overrides, and the diff that hot reload uses
// to restart only the channels that changed.
//
// Other packages never read this struct directly: the daemon maps it onto
// each component's own options.
package config

//go:generate go run ./internal/iso639gen -out iso639_table.go

import "time"

// DemoModel is the name of the embedded demo model. A channel that names no
// model uses it; a `models` entry with this name overrides its settings.
const DemoModel = "demo-en"

// DefaultPath is where the daemon looks for its config file.
const DefaultPath = "/etc/subtitled/subtitled.yaml"

// Track names, as used in captions.tracks and in the outputs.
const (
	TrackVerbatim = "verbatim"
	TrackSubtitle = "subtitle"
)

// Config is the whole daemon configuration.
type Config struct {
	// Listen is the HTTP listen address (host:port).
	Listen string `yaml:"listen"`
	// Log configures logging.
	Log Log `yaml:"log"`
	// HTTP configures the HTTP server.
	HTTP HTTP `yaml:"http"`
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// StateDir keeps what must survive a restart, even a crash: each
	// channel's next cue IDs. Empty: $STATE_DIRECTORY (set by systemd's
	// StateDirectory=), else nothing is kept.
	StateDir string `yaml:"state_dir"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// WebSocket holds the server-wide settings of the caption feed.
	WebSocket WebSocketServer `yaml:"websocket"`
	// WHIP holds the server-wide settings of the WebRTC ingest.
	WHIP WHIPServer `yaml:"whip"`
	// Limits bounds queues and buffers.
	Limits Limits `yaml:"limits"`
	// Models maps a model name to its bundle and run settings.
	Models map[string]Model `yaml:"models"`
	// Defaults are copied into every channel before its own keys apply.
	Defaults Defaults `yaml:"defaults"`
	// Channels are the captioned streams.
	Channels []Channel `yaml:"channels"`

	source  string            // file name used in error messages
	lines   map[string]int    // key path -> line, filled by Parse
	fromEnv map[string]string // key path -> environment variable that set it
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// HTTP configures the HTTP server that serves the API, WebSocket, WHIP,
// metrics and the status page.
type HTTP struct {
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    ByteSize      `yaml:"max_header_bytes"`
	// TLS enables HTTPS when both files are set.
	TLS TLS `yaml:"tls"`
	// ReloadToken is the bearer token of POST /v1/reload; with neither it
	// nor ReloadTokenEnv set, the endpoint is disabled.
	ReloadToken string `yaml:"reload_token"`
	// ReloadTokenEnv names an environment variable holding the token.
	ReloadTokenEnv string `yaml:"reload_token_env"`

	reloadToken string // resolved by Validate
}

// ReloadBearer returns the resolved reload token ("" when reload over HTTP
// is disabled).
func (h HTTP) ReloadBearer() string {
	if h.reloadToken != "" {
		return h.reloadToken
	}
	return h.ReloadToken
}

// TLS names the certificate and key files. Both or neither must be set.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Enabled reports whether HTTPS is configured.
func (t TLS) Enabled() bool { return t.Cert != "" && t.Key != "" }

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled bool   `yaml:"enabled"`
	Path    string `yaml:"path"`
}

// WebSocketServer holds the settings shared by every channel's caption feed.
type WebSocketServer struct {
	// AllowedOrigins lists the Origin values accepted on upgrade. Empty:
	// same-origin requests and clients that send no Origin. "*" allows all.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Token, when set, is required as a bearer token (header or ?token=).
	Token    string `yaml:"token"`
	TokenEnv string `yaml:"token_env"`
	// MaxClients caps connections over all channels (503 beyond it).
	MaxClients int `yaml:"max_clients"`
	// MaxClientsPerIP caps connections from one remote address.
	MaxClientsPerIP int `yaml:"max_clients_per_ip"`
	// ReadLimit is the largest message accepted from a client.
	ReadLimit    ByteSize      `yaml:"read_limit"`
	PingInterval time.Duration `yaml:"ping_interval"`
	PongTimeout  time.Duration `yaml:"pong_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`

	token string
}

// Bearer returns the resolved client token ("" when none is required).
func (w WebSocketServer) Bearer() string {
	if w.token != "" {
		return w.token
	}
	return w.Token
}

// WHIPServer holds the settings shared by all WHIP channels.
type WHIPServer struct {
	// MaxSessions caps concurrent sessions (503 with Retry-After beyond it).
	MaxSessions int `yaml:"max_sessions"`
	// SetupTimeout reaps sessions that do not complete ICE and DTLS.
	SetupTimeout time.Duration `yaml:"setup_timeout"`
	// AllowedOrigins lists CORS origins for browser publishers ("*": any).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// ICE configures candidate gathering.
	ICE ICE `yaml:"ice"`
}

// ICE configures WebRTC candidate gathering.
type ICE struct {
	// UDPPortMin and UDPPortMax restrict the local UDP ports (both 0: any).
	UDPPortMin int `yaml:"udp_port_min"`
	UDPPortMax int `yaml:"udp_port_max"`
	// NAT1To1IPs are public addresses advertised as host candidates.
	NAT1To1IPs []string `yaml:"nat_1to1_ips"`
	// STUNServers are stun: URLs used for server-reflexive candidates.
	STUNServers []string `yaml:"stun_servers"`
	// Interfaces restricts host candidates to these interfaces (empty: all).
	Interfaces []string `yaml:"interfaces"`
	// Loopback also gathers loopback candidates (tests, local publishers).
	Loopback bool `yaml:"loopback"`
}

// Limits bounds the queues and buffers not configured elsewhere.
type Limits struct {
	// QueueSize is the depth of each bounded queue between pipeline stages.
	QueueSize int `yaml:"queue_size"`
	// PESMaxBytes caps one audio PES being assembled.
	PESMaxBytes ByteSize `yaml:"pes_max_bytes"`
	// DelayBufferBytes caps the TS held by one `sync: delay` output.
	DelayBufferBytes ByteSize `yaml:"delay_buffer_bytes"`
	// UDPBufferBytes is the socket receive buffer asked for UDP inputs.
	UDPBufferBytes ByteSize `yaml:"udp_buffer_bytes"`
	// MaxRequestBytes caps HTTP request bodies (WHIP offers, reload).
	MaxRequestBytes ByteSize `yaml:"max_request_bytes"`
}

// Model is one recognizer model bundle and how it runs.
type Model struct {
	// Path is the bundle directory. Empty only for the embedded DemoModel.
	Path string `yaml:"path"`
	// Device is cpu or cuda:N (cuda alone means cuda:0).
	Device string `yaml:"device"`
	// Threads is ONNX Runtime's intra-op thread count (0: its default).
	Threads int `yaml:"threads"`
	// MaxBatch is the most streams stacked into one encoder call.
	MaxBatch int `yaml:"max_batch"`
	// BatchWait is how long the scheduler waits for more ready streams.
	BatchWait time.Duration `yaml:"batch_wait"`
	// Decoding is greedy or beam (transducers; CTC is always greedy).
	Decoding string `yaml:"decoding"`
	// Beam is the number of active paths of beam decoding.
	Beam int `yaml:"beam"`
	// Endpoint configures endpoint detection.
	Endpoint Endpoint `yaml:"endpoint"`
	// CommitAfter bounds how long a finished word may stay revisable
	// before it is committed to captions without waiting for an endpoint
	// (words the search agrees on are committed at once); 0 commits only
	// at endpoints.
	CommitAfter time.Duration `yaml:"commit_after"`
}

// Embedded reports whether the model is the one built into the binary.
func (m Model) Embedded() bool { return m.Path == "" }

// Endpoint holds the three endpoint rules (MODEL-CONTRACT §1.9).
type Endpoint struct {
	// Rule1MinTrailingSilence ends a segment after this much silence even
	// when nothing was decoded.
	Rule1MinTrailingSilence time.Duration `yaml:"rule1_min_trailing_silence"`
	// Rule2MinTrailingSilence ends a segment after this pause following speech.
	Rule2MinTrailingSilence time.Duration `yaml:"rule2_min_trailing_silence"`
	// Rule3MinUtteranceLength forces an endpoint after this much audio.
	Rule3MinUtteranceLength time.Duration `yaml:"rule3_min_utterance_length"`
}

// Defaults are applied to every channel before the channel's own keys.
type Defaults struct {
	Language string   `yaml:"language"`
	Model    string   `yaml:"model"`
	Captions Captions `yaml:"captions"`
}

// Channel is one captioned stream.
type Channel struct {
	// ID names the channel in URLs, metrics and logs: [a-z0-9_-]+.
	ID string `yaml:"id"`
	// Name is shown on the status page (default: ID).
	Name string `yaml:"name"`
	// Language is an ISO 639-1 or 639-2 code.
	Language string `yaml:"language"`
	// Model is a key of Config.Models, or DemoModel.
	Model string `yaml:"model"`
	// Input is where the audio comes from.
	Input Input `yaml:"input"`
	// WHIP holds the publisher settings of a whip input.
	WHIP *WHIPChannel `yaml:"whip"`
	// Captions controls cue building and the subtitle rules.
	Captions Captions `yaml:"captions"`
	// Outputs are the channel's sinks.
	Outputs []Output `yaml:"outputs"`
	// Restart is the supervisor's backoff after the channel fails.
	Restart Backoff `yaml:"restart"`
}

// Backoff is an exponential backoff range.
type Backoff struct {
	Min time.Duration `yaml:"min"`
	Max time.Duration `yaml:"max"`
}

// Input describes a channel's source.
type Input struct {
	// URL: a file path or file:///path, udp://[src@]host:port[?iface=X],
	// http(s)://..., "-" or "stdin", or "whip". See Source.
	URL string `yaml:"url"`
	// Realtime paces a file by its PCR/PTS instead of reading at full speed.
	Realtime bool `yaml:"realtime"`
	// Loop restarts a file at its end.
	Loop bool `yaml:"loop"`
	// Program selects the MPEG-TS program number (0: the first).
	Program int `yaml:"program"`
	// AudioLanguage picks the audio stream by ISO 639 descriptor (default:
	// the channel language; the first audio stream when none matches).
	AudioLanguage string `yaml:"audio_language"`
	// AudioPID forces the audio PID (0: choose by language).
	AudioPID int `yaml:"audio_pid"`
	// Reconnect is the backoff between attempts to reopen the source.
	Reconnect Backoff `yaml:"reconnect"`
	// MaxLag is how far recognition may fall behind before audio is dropped.
	MaxLag time.Duration `yaml:"max_lag"`
	// StallTimeout marks the input stalled when no audio arrives for this long.
	StallTimeout time.Duration `yaml:"stall_timeout"`
}

// Source parses URL. Validate has already reported any error it returns.
func (in Input) Source() (Source, error) { return ParseSource(in.URL) }

// WHIPChannel holds the per-channel settings of a WHIP input.
type WHIPChannel struct {
	// Token is the publisher's bearer token; TokenEnv names an environment
	// variable holding it. Exactly one must be set.
	Token    string `yaml:"token"`
	TokenEnv string `yaml:"token_env"`
	// AllowReplace lets a new publisher replace the active one (else 409).
	AllowReplace bool `yaml:"allow_replace"`
	// Video is ignore (accept the offer, drop video) or reject.
	Video string `yaml:"video"`

	token string
}

// Bearer returns the resolved publisher token.
func (w WHIPChannel) Bearer() string {
	if w.token != "" {
		return w.token
	}
	return w.Token
}

// Captions controls how cues are built from words (CAPTION-RULES.md).
type Captions struct {
	// Tracks lists the tracks produced: verbatim, subtitle.
	Tracks []string `yaml:"tracks"`
	// Mode is pop-on or roll-up.
	Mode            string `yaml:"mode"`
	MaxCharsPerLine int    `yaml:"max_chars_per_line"`
	MaxLines        int    `yaml:"max_lines"`
	// MinDuration and MaxDuration bound the time a cue is on screen.
	MinDuration time.Duration `yaml:"min_duration"`
	MaxDuration time.Duration `yaml:"max_duration"`
	// MinGap is the least gap between consecutive cues.
	MinGap time.Duration `yaml:"min_gap"`
	// Hang is how long a cue may stay after its last word.
	Hang time.Duration `yaml:"hang"`
	// Subtitle configures the rules that derive the subtitle track.
	Subtitle SubtitleRules `yaml:"subtitle"`
}

// HasTrack reports whether the captions produce track.
func (c Captions) HasTrack(track string) bool {
	for _, t := range c.Tracks {
		if t == track {
			return true
		}
	}
	return false
}

// clone returns a deep copy.
func (c Captions) clone() Captions {
	c.Tracks = append([]string(nil), c.Tracks...)
	c.Subtitle.WordFilter.Words = append([]string(nil), c.Subtitle.WordFilter.Words...)
	if c.Subtitle.Replacements != nil {
		m := make(map[string]string, len(c.Subtitle.Replacements))
		for k, v := range c.Subtitle.Replacements {
			m[k] = v
		}
		c.Subtitle.Replacements = m
	}
	return c
}

// SubtitleRules switches the verbatim-to-subtitle rules. They apply only
// when the model has no subtitle head.
type SubtitleRules struct {
	Fillers      bool              `yaml:"fillers"`
	Repetitions  bool              `yaml:"repetitions"`
	Casing       bool              `yaml:"casing"`
	WordFilter   WordFilter        `yaml:"word_filter"`
	Replacements map[string]string `yaml:"replacements"`
}

// WordFilter masks or removes listed words (case-insensitive).
type WordFilter struct {
	Words []string `yaml:"words"`
	// Mode is mask (letters become *) or remove.
	Mode string `yaml:"mode"`
}

// Output is one sink. Exactly one of its fields is set.
type Output struct {
	WebSocket *WebSocketOutput `yaml:"websocket"`
	File      *FileOutput      `yaml:"file"`
	TS        *TSOutput        `yaml:"ts"`
}

// Kind returns "websocket", "file", "ts", or "" when none or several are set.
func (o Output) Kind() string {
	kind, n := "", 0
	if o.WebSocket != nil {
		kind, n = "websocket", n+1
	}
	if o.File != nil {
		kind, n = "file", n+1
	}
	if o.TS != nil {
		kind, n = "ts", n+1
	}
	if n != 1 {
		return ""
	}
	return kind
}

// WebSocketOutput publishes the channel at /v1/channels/{id}/captions.
type WebSocketOutput struct {
	// Tracks offered to clients (default: all of the channel's tracks).
	Tracks []string `yaml:"tracks"`
	// RingSize is how many final cues per track are kept for ?since= resume.
	RingSize int `yaml:"ring_size"`
	// MaxClients caps this channel's clients.
	MaxClients int `yaml:"max_clients"`
	// Queue is each client's send queue, in messages.
	Queue int `yaml:"queue"`
}

// FileOutput appends final cues to a caption file.
type FileOutput struct {
	Path string `yaml:"path"`
	// Format is vtt, srt, ttml or json (default: from the path's extension).
	Format string `yaml:"format"`
	// Track written (default: subtitle when produced, else verbatim).
	Track string `yaml:"track"`
	// RotateSize rotates the file when it grows past this size (0: never).
	RotateSize ByteSize `yaml:"rotate_size"`
	// RotateInterval rotates the file this often (0: never).
	RotateInterval time.Duration `yaml:"rotate_interval"`
	// TimestampMap adds an X-TIMESTAMP-MAP header for HLS (vtt only).
	TimestampMap bool `yaml:"timestamp_map"`
	// AbsoluteTimes writes media times as they are instead of from 0.
	AbsoluteTimes bool `yaml:"absolute_times"`
}

// TSOutput re-emits the input TS with a teletext subtitle PID.
type TSOutput struct {
	// URL is a file path or file:///path, udp://host:port, or "http"
	// (served at /v1/channels/{id}/ts). See Destination.
	URL string `yaml:"url"`
	// Track inserted (default: subtitle when produced, else verbatim).
	Track    string   `yaml:"track"`
	Teletext Teletext `yaml:"teletext"`
	// Sync is live (insert at the current output time) or delay.
	Sync string `yaml:"sync"`
	// Delay is how long the TS is held in delay mode.
	Delay time.Duration `yaml:"delay"`
	// TTL of multicast UDP datagrams.
	TTL int `yaml:"ttl"`
	// Iface is the interface multicast UDP is sent from.
	Iface string `yaml:"iface"`
	// PacketsPerDatagram is the number of TS packets per UDP datagram.
	PacketsPerDatagram int `yaml:"packets_per_datagram"`
}

// Destination parses URL for the channel channelID.
func (t TSOutput) Destination(channelID string) (Destination, error) {
	return ParseDestination(t.URL, channelID)
}

// Teletext configures the DVB teletext subtitle service.
type Teletext struct {
	// Page in the usual notation (magazine digit 1-8, then two decimal digits).
	Page TeletextPage `yaml:"page"`
	// PID of the subtitle stream (0: the first free PID from 0x0100 up).
	PID int `yaml:"pid"`
	// Language for the teletext descriptor (default: the channel language).
	Language string `yaml:"language"`
	// Type is subtitle or hearing_impaired (teletext_type 0x02 or 0x05).
	Type string `yaml:"type"`
	// MaxCharsPerLine is the row width; longer cue lines are re-broken.
	MaxCharsPerLine int `yaml:"max_chars_per_line"`
}

// Default returns the built-in configuration: every default, no models and
// no channels. (A config needs at least one channel to validate.)
func Default() *Config {
	return &Config{
		Listen:          "127.0.0.1:8080",
		Log:             Log{Level: "info", Format: "text"},
		HTTP:            defaultHTTP(),
		ShutdownTimeout: 10 * time.Second,
		Metrics:         Metrics{Enabled: true, Path: "/metrics"},
		WebSocket: WebSocketServer{
			MaxClients:      10000,
			MaxClientsPerIP: 100,
			ReadLimit:       4 * KiB,
			PingInterval:    20 * time.Second,
			PongTimeout:     60 * time.Second,
			WriteTimeout:    10 * time.Second,
		},
		WHIP: WHIPServer{
			MaxSessions:    32,
			SetupTimeout:   30 * time.Second,
			AllowedOrigins: []string{"*"},
		},
		Limits: Limits{
			QueueSize:        64,
			PESMaxBytes:      512 * KiB,
			DelayBufferBytes: 64 * MiB,
			UDPBufferBytes:   4 * MiB,
			MaxRequestBytes:  64 * KiB,
		},
		Models: map[string]Model{},
		Defaults: Defaults{
			Captions: DefaultCaptions(),
		},
	}
}

func defaultHTTP() HTTP {
	return HTTP{
		ReadTimeout:       30 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 * KiB,
	}
}

// DefaultCaptions returns the caption settings of CAPTION-RULES.md.
func DefaultCaptions() Captions {
	return Captions{
		Tracks:          []string{TrackVerbatim, TrackSubtitle},
		Mode:            "pop-on",
		MaxCharsPerLine: 42,
		MaxLines:        2,
		MinDuration:     830 * time.Millisecond,
		MaxDuration:     7 * time.Second,
		MinGap:          80 * time.Millisecond,
		Hang:            1500 * time.Millisecond,
		Subtitle: SubtitleRules{
			Fillers:     true,
			Repetitions: true,
			Casing:      true,
			WordFilter:  WordFilter{Mode: "mask"},
		},
	}
}

// DefaultModel returns the run settings a model gets when its entry omits them.
func DefaultModel() Model {
	return Model{
		Device:    "cpu",
		MaxBatch:  16,
		BatchWait: 10 * time.Millisecond,
		Decoding:  "greedy",
		Beam:      4,
		Endpoint: Endpoint{
			Rule1MinTrailingSilence: 2400 * time.Millisecond,
			Rule2MinTrailingSilence: 1200 * time.Millisecond,
			Rule3MinUtteranceLength: 20 * time.Second,
		},
		CommitAfter: time.Second,
	}
}

// NewChannel returns a channel holding the defaults d and the built-in
// channel defaults, ready for its own keys.
func NewChannel(d Defaults) Channel {
	return Channel{
		Language: d.Language,
		Model:    d.Model,
		Input:    defaultInput(),
		Captions: d.Captions.clone(),
		Restart:  Backoff{Min: time.Second, Max: time.Minute},
	}
}

func defaultInput() Input {
	return Input{
		Reconnect:    Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second},
		MaxLag:       5 * time.Second,
		StallTimeout: 2 * time.Second,
	}
}

// DefaultWHIPChannel returns the defaults of a channel's whip section.
func DefaultWHIPChannel() WHIPChannel { return WHIPChannel{Video: "ignore"} }

// DefaultWebSocketOutput returns the defaults of a websocket output.
func DefaultWebSocketOutput() WebSocketOutput {
	return WebSocketOutput{RingSize: 512, MaxClients: 1000, Queue: 256}
}

// DefaultFileOutput returns the defaults of a file output.
func DefaultFileOutput() FileOutput { return FileOutput{} }

// DefaultTSOutput returns the defaults of a ts output.
func DefaultTSOutput() TSOutput {
	return TSOutput{
		Teletext: Teletext{
			Page:            888,
			Type:            "subtitle",
			MaxCharsPerLine: 34,
		},
		Sync:               "live",
		Delay:              4 * time.Second,
		TTL:                16,
		PacketsPerDatagram: 7,
	}
}

// Channel returns the channel with the given id, or nil.
func (c *Config) Channel(id string) *Channel {
	for i := range c.Channels {
		if c.Channels[i].ID == id {
			return &c.Channels[i]
		}
	}
	return nil
}

// Model returns the settings of the named model. DemoModel is always
// available: when Models has no entry for it, it runs with DefaultModel.
func (c *Config) Model(name string) (Model, bool) {
	if name == "" {
		name = DemoModel
	}
	if m, ok := c.Models[name]; ok {
		return m, true
	}
	if name == DemoModel {
		return DefaultModel(), true
	}
	return Model{}, false
}

// UsedModels returns the names of the models that channels use, in the
// order of first use.
func (c *Config) UsedModels() []string {
	var names []string
	seen := map[string]bool{}
	for _, ch := range c.Channels {
		name := ch.Model
		if name == "" {
			name = DemoModel
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// Source is the file name the config was parsed from ("" when unknown).
func (c *Config) Source() string { return c.source }
