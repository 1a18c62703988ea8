package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Environment variables that override keys of the file.
const (
	EnvListen    = "SUBTITLED_LISTEN"     // listen
	EnvLogLevel  = "SUBTITLED_LOG_LEVEL"  // log.level
	EnvLogFormat = "SUBTITLED_LOG_FORMAT" // log.format
)

// Validate fills the values derived from other keys (see normalize), reads
// the *_env secrets from the environment, and checks every key. It returns
// Errors holding every problem, or nil.
func (c *Config) Validate() error {
	errs := &errList{source: c.source, lines: c.lines, fromEnv: c.fromEnv}
	c.check(errs)
	return errs.result()
}

// envOverrides maps each override variable to the key it sets.
var envOverrides = []struct{ name, path string }{
	{EnvListen, "listen"},
	{EnvLogLevel, "log.level"},
	{EnvLogFormat, "log.format"},
}

// applyEnv applies the environment overrides. Errors about an overridden
// key name the variable instead of a line.
func (c *Config) applyEnv() {
	for _, o := range envOverrides {
		v := os.Getenv(o.name)
		if v == "" {
			continue
		}
		switch o.path {
		case "listen":
			c.Listen = v
		case "log.level":
			c.Log.Level = v
		case "log.format":
			c.Log.Format = v
		}
		if c.fromEnv == nil {
			c.fromEnv = map[string]string{}
		}
		c.fromEnv[o.path] = o.name
		delete(c.lines, o.path)
	}
}

// normalize fills values that default to other keys: a channel's name (its
// id), model (defaults.model, then DemoModel), audio language and teletext
// language (the channel language), the tracks of websocket outputs (the
// channel's tracks), the track of file and ts outputs (subtitle when
// produced, else verbatim), the format of file outputs (from the
// extension), the whip section of whip channels, and "cuda" as "cuda:0".
// Values already set are kept, so normalize can run again.
func (c *Config) normalize() {
	if c.Models == nil {
		c.Models = map[string]Model{}
	}
	for name, m := range c.Models {
		if m.Device == "cuda" {
			m.Device = "cuda:0"
			c.Models[name] = m
		}
	}
	c.Defaults.Language = strings.ToLower(c.Defaults.Language)
	for i := range c.Channels {
		ch := &c.Channels[i]
		ch.Language = strings.ToLower(ch.Language)
		ch.Input.AudioLanguage = strings.ToLower(ch.Input.AudioLanguage)
		if ch.Name == "" {
			ch.Name = ch.ID
		}
		if ch.Language == "" {
			ch.Language = c.Defaults.Language
		}
		if ch.Model == "" {
			ch.Model = c.Defaults.Model
		}
		if ch.Model == "" {
			ch.Model = DemoModel
		}
		lang3, _ := LanguageCode3(ch.Language)
		src, err := ch.Input.Source()
		if err == nil && src.Kind == SourceWHIP && ch.WHIP == nil {
			w := DefaultWHIPChannel()
			ch.WHIP = &w
		}
		if err == nil && src.TS() && ch.Input.AudioLanguage == "" {
			ch.Input.AudioLanguage = lang3
		}
		track := TrackVerbatim
		if ch.Captions.HasTrack(TrackSubtitle) || len(ch.Captions.Tracks) == 0 {
			track = TrackSubtitle
		}
		for _, o := range ch.Outputs {
			if o.WebSocket != nil && o.WebSocket.Tracks == nil {
				o.WebSocket.Tracks = append([]string(nil), ch.Captions.Tracks...)
			}
			if o.File != nil {
				if o.File.Track == "" {
					o.File.Track = track
				}
				if o.File.Format == "" {
					o.File.Format = formatFromExt(o.File.Path)
				}
			}
			if o.TS != nil {
				o.TS.Teletext.Language = strings.ToLower(o.TS.Teletext.Language)
				if o.TS.Track == "" {
					o.TS.Track = track
				}
				if o.TS.Teletext.Language == "" {
					o.TS.Teletext.Language = lang3
				}
			}
		}
	}
}

func formatFromExt(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".vtt", ".webvtt":
		return "vtt"
	case ".srt":
		return "srt"
	case ".ttml", ".xml", ".dfxp":
		return "ttml"
	case ".json", ".jsonl", ".ndjson":
		return "json"
	}
	return ""
}

// Allowed values.
var (
	logLevels    = []string{"debug", "info", "warn", "error"}
	logFormats   = []string{"text", "json"}
	decodings    = []string{"greedy", "beam"}
	trackNames   = []string{TrackVerbatim, TrackSubtitle}
	captionModes = []string{"pop-on", "roll-up"}
	filterModes  = []string{"mask", "remove"}
	videoModes   = []string{"ignore", "reject"}
	fileFormats  = []string{"vtt", "srt", "ttml", "json"}
	syncModes    = []string{"live", "delay"}
	ttxTypes     = []string{"subtitle", "hearing_impaired"}

	channelIDRe = regexp.MustCompile(`^[a-z0-9_-]+$`)
	modelNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	deviceRe    = regexp.MustCompile(`^(cpu|cuda:(0|[1-9][0-9]?))$`)
	envNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// checker validates a config into an errList.
type checker struct {
	*errList
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (k checker) enum(path, v string, allowed []string) {
	if !oneOf(v, allowed) {
		k.add(path, "%s (want %s)", quoteOrEmpty(v), strings.Join(allowed, ", "))
	}
}

func quoteOrEmpty(v string) string {
	if v == "" {
		return "required"
	}
	return "unknown value " + strconv.Quote(v)
}

func (k checker) intRange(path string, v, lo, hi int) {
	if v < lo || v > hi {
		k.add(path, "%d is out of range (want %d..%d)", v, lo, hi)
	}
}

func (k checker) durRange(path string, v, lo, hi time.Duration) {
	if v < lo || v > hi {
		k.add(path, "%s is out of range (want %s..%s)", v, lo, hi)
	}
}

func (k checker) sizeRange(path string, v, lo, hi ByteSize) {
	if v < lo || v > hi {
		k.add(path, "%s is out of range (want %s..%s)", v, lo, hi)
	}
}

// secret resolves a value/env pair and returns the secret.
func (k checker) secret(path, valueKey, envKey, value, env string) string {
	if env == "" {
		return value
	}
	if value != "" {
		k.add(joinKey(path, envKey), "%s and %s are mutually exclusive", valueKey, envKey)
		return value
	}
	if !envNameRe.MatchString(env) {
		k.add(joinKey(path, envKey), "invalid environment variable name %q", env)
		return ""
	}
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		k.add(joinKey(path, envKey), "environment variable %s is not set", env)
		return ""
	}
	return v
}

func (k checker) origins(path string, list []string) {
	for i, o := range list {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			k.add(joinIndex(path, i), "invalid origin %q (want \"*\" or scheme://host[:port])", o)
		}
	}
}

// check normalizes c and records every problem in errs.
func (c *Config) check(errs *errList) {
	c.normalize()
	k := checker{errList: errs}

	if c.Listen == "" {
		k.add("listen", "required")
	} else if err := checkListen(c.Listen); err != nil {
		k.add("listen", "%v", err)
	}
	k.enum("log.level", c.Log.Level, logLevels)
	k.enum("log.format", c.Log.Format, logFormats)

	h := &c.HTTP
	k.durRange("http.read_timeout", h.ReadTimeout, 0, time.Hour)
	k.durRange("http.read_header_timeout", h.ReadHeaderTimeout, time.Millisecond, time.Minute)
	k.durRange("http.write_timeout", h.WriteTimeout, 0, time.Hour)
	k.durRange("http.idle_timeout", h.IdleTimeout, 0, 24*time.Hour)
	k.sizeRange("http.max_header_bytes", h.MaxHeaderBytes, KiB, 16*MiB)
	if (h.TLS.Cert == "") != (h.TLS.Key == "") {
		if h.TLS.Cert == "" {
			k.add("http.tls.cert", "required when http.tls.key is set")
		} else {
			k.add("http.tls.key", "required when http.tls.cert is set")
		}
	}
	h.reloadToken = k.secret("http", "reload_token", "reload_token_env", h.ReloadToken, h.ReloadTokenEnv)

	k.durRange("shutdown_timeout", c.ShutdownTimeout, 100*time.Millisecond, 10*time.Minute)
	if strings.ContainsRune(c.StateDir, 0) {
		k.add("state_dir", "contains a NUL byte")
	}

	if c.Metrics.Enabled && !strings.HasPrefix(c.Metrics.Path, "/") {
		k.add("metrics.path", "%q must start with /", c.Metrics.Path)
	}

	ws := &c.WebSocket
	k.origins("websocket.allowed_origins", ws.AllowedOrigins)
	ws.token = k.secret("websocket", "token", "token_env", ws.Token, ws.TokenEnv)
	k.intRange("websocket.max_clients", ws.MaxClients, 1, 1_000_000)
	k.intRange("websocket.max_clients_per_ip", ws.MaxClientsPerIP, 1, 1_000_000)
	if ws.MaxClientsPerIP > ws.MaxClients && ws.MaxClients >= 1 {
		k.add("websocket.max_clients_per_ip", "%d exceeds websocket.max_clients (%d)", ws.MaxClientsPerIP, ws.MaxClients)
	}
	k.sizeRange("websocket.read_limit", ws.ReadLimit, 128, MiB)
	k.durRange("websocket.ping_interval", ws.PingInterval, 100*time.Millisecond, 10*time.Minute)
	k.durRange("websocket.pong_timeout", ws.PongTimeout, 100*time.Millisecond, 30*time.Minute)
	if ws.PongTimeout <= ws.PingInterval && ws.PingInterval > 0 {
		k.add("websocket.pong_timeout", "%s must be longer than websocket.ping_interval (%s)", ws.PongTimeout, ws.PingInterval)
	}
	k.durRange("websocket.write_timeout", ws.WriteTimeout, 10*time.Millisecond, 10*time.Minute)

	c.checkWHIPServer(k)

	l := c.Limits
	k.intRange("limits.queue_size", l.QueueSize, 1, 65536)
	k.sizeRange("limits.pes_max_bytes", l.PESMaxBytes, 4*KiB, 64*MiB)
	k.sizeRange("limits.delay_buffer_bytes", l.DelayBufferBytes, MiB, 16*GiB)
	k.sizeRange("limits.udp_buffer_bytes", l.UDPBufferBytes, 64*KiB, GiB)
	k.sizeRange("limits.max_request_bytes", l.MaxRequestBytes, KiB, 64*MiB)

	for _, name := range sortedModelNames(c.Models) {
		c.checkModel(k, joinKey("models", name), name, c.Models[name])
	}

	if c.Defaults.Language != "" {
		if _, ok := LanguageCode3(c.Defaults.Language); !ok {
			k.add("defaults.language", "unknown language %q (want an ISO 639-1 or 639-2 code such as \"en\" or \"deu\")", c.Defaults.Language)
		}
	}
	if c.Defaults.Model != "" {
		if _, ok := c.Model(c.Defaults.Model); !ok {
			k.add("defaults.model", "unknown model %q (%s)", c.Defaults.Model, c.modelChoices())
		}
	}
	checkCaptions(k, "defaults.captions", c.Defaults.Captions, nil)

	c.checkChannels(k)
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q (want host:port): %v", addr, strings.TrimPrefix(err.Error(), "address "+addr+": "))
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p > 65535 {
		return fmt.Errorf("invalid port %q in %q", port, addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host %q in %q", host, addr)
	}
	return nil
}

func (c *Config) checkWHIPServer(k checker) {
	w := c.WHIP
	k.intRange("whip.max_sessions", w.MaxSessions, 1, 100_000)
	k.durRange("whip.setup_timeout", w.SetupTimeout, time.Second, 10*time.Minute)
	k.origins("whip.allowed_origins", w.AllowedOrigins)
	ice := w.ICE
	k.intRange("whip.ice.udp_port_min", ice.UDPPortMin, 0, 65535)
	k.intRange("whip.ice.udp_port_max", ice.UDPPortMax, 0, 65535)
	if (ice.UDPPortMin == 0) != (ice.UDPPortMax == 0) {
		k.add("whip.ice.udp_port_min", "set both udp_port_min and udp_port_max, or neither")
	} else if ice.UDPPortMin > ice.UDPPortMax {
		k.add("whip.ice.udp_port_max", "%d is below udp_port_min (%d)", ice.UDPPortMax, ice.UDPPortMin)
	}
	for i, ip := range ice.NAT1To1IPs {
		if a, err := netip.ParseAddr(ip); err != nil || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			k.add(joinIndex("whip.ice.nat_1to1_ips", i), "invalid IP address %q", ip)
		}
	}
	for i, s := range ice.STUNServers {
		if err := checkSTUN(s); err != nil {
			k.add(joinIndex("whip.ice.stun_servers", i), "%v", err)
		}
	}
	for i, name := range ice.Interfaces {
		if err := checkIface(name); err != nil {
			k.add(joinIndex("whip.ice.interfaces", i), "%v", err)
		}
	}
}

func checkSTUN(s string) error {
	rest, ok := strings.CutPrefix(s, "stun:")
	if !ok {
		rest, ok = strings.CutPrefix(s, "stuns:")
	}
	if !ok || rest == "" || strings.HasPrefix(rest, "//") {
		return fmt.Errorf("invalid STUN server %q (want stun:host[:port])", s)
	}
	host := rest
	if h, p, err := net.SplitHostPort(rest); err == nil {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("invalid port in STUN server %q", s)
		}
		host = h
	}
	if host == "" || strings.ContainsAny(host, "/ ?#@") {
		return fmt.Errorf("invalid STUN server %q (want stun:host[:port])", s)
	}
	return nil
}

func (c *Config) checkModel(k checker, path, name string, m Model) {
	if !modelNameRe.MatchString(name) {
		k.add(path, "invalid model name %q (want letters, digits, _ . -)", name)
	}
	if m.Path == "" && name != DemoModel {
		k.add(joinKey(path, "path"), "required (a model bundle directory)")
	}
	if !deviceRe.MatchString(m.Device) {
		k.add(joinKey(path, "device"), "invalid device %q (want cpu or cuda:N)", m.Device)
	}
	k.intRange(joinKey(path, "threads"), m.Threads, 0, 1024)
	k.intRange(joinKey(path, "max_batch"), m.MaxBatch, 1, 1024)
	k.durRange(joinKey(path, "batch_wait"), m.BatchWait, 0, time.Second)
	k.enum(joinKey(path, "decoding"), m.Decoding, decodings)
	k.intRange(joinKey(path, "beam"), m.Beam, 1, 64)
	ep := joinKey(path, "endpoint")
	k.durRange(joinKey(ep, "rule1_min_trailing_silence"), m.Endpoint.Rule1MinTrailingSilence, 0, 10*time.Minute)
	k.durRange(joinKey(ep, "rule2_min_trailing_silence"), m.Endpoint.Rule2MinTrailingSilence, 0, 10*time.Minute)
	k.durRange(joinKey(ep, "rule3_min_utterance_length"), m.Endpoint.Rule3MinUtteranceLength, time.Second, time.Hour)
	k.durRange(joinKey(path, "commit_after"), m.CommitAfter, 0, time.Minute)
}

func (c *Config) modelChoices() string {
	names := append(sortedModelNames(c.Models), DemoModel)
	names = dedupe(names)
	return "want one of: " + strings.Join(names, ", ")
}

// checkCaptions validates caption settings at path. report, when not nil,
// says whether to check the keys at the given paths: a channel's value
// inherited from defaults.captions has been checked there already.
func checkCaptions(k checker, path string, cp Captions, report func(paths ...string) bool) {
	ok := func(paths ...string) bool { return report == nil || report(paths...) }
	p := func(key string) string { return path + "." + key }

	if ok(p("tracks")) {
		if len(cp.Tracks) == 0 {
			k.add(p("tracks"), "at least one track is required (want %s)", strings.Join(trackNames, ", "))
		}
		seen := map[string]bool{}
		for i, t := range cp.Tracks {
			ip := joinIndex(p("tracks"), i)
			if !oneOf(t, trackNames) {
				k.add(ip, "%s (want %s)", quoteOrEmpty(t), strings.Join(trackNames, ", "))
			} else if seen[t] {
				k.add(ip, "track %q listed twice", t)
			}
			seen[t] = true
		}
	}
	if ok(p("mode")) {
		k.enum(p("mode"), cp.Mode, captionModes)
	}
	if ok(p("max_chars_per_line")) {
		k.intRange(p("max_chars_per_line"), cp.MaxCharsPerLine, 8, 200)
	}
	if ok(p("max_lines")) {
		k.intRange(p("max_lines"), cp.MaxLines, 1, 4)
	}
	if ok(p("min_duration")) {
		k.durRange(p("min_duration"), cp.MinDuration, 0, time.Minute)
	}
	if ok(p("max_duration")) {
		k.durRange(p("max_duration"), cp.MaxDuration, 500*time.Millisecond, time.Minute)
	}
	if ok(p("min_duration"), p("max_duration")) && cp.MinDuration > cp.MaxDuration {
		k.add(p("min_duration"), "%s exceeds max_duration (%s)", cp.MinDuration, cp.MaxDuration)
	}
	if ok(p("min_gap")) {
		k.durRange(p("min_gap"), cp.MinGap, 0, 5*time.Second)
	}
	if ok(p("hang")) {
		k.durRange(p("hang"), cp.Hang, 0, time.Minute)
	}
	sub := p("subtitle")
	wf := sub + ".word_filter"
	if ok(wf + ".mode") {
		k.enum(wf+".mode", cp.Subtitle.WordFilter.Mode, filterModes)
	}
	if ok(wf + ".words") {
		for i, w := range cp.Subtitle.WordFilter.Words {
			if strings.TrimSpace(w) == "" {
				k.add(joinIndex(wf+".words", i), "empty word")
			}
		}
	}
	if ok(sub + ".replacements") {
		for _, from := range sortedKeys(cp.Subtitle.Replacements) {
			if strings.TrimSpace(from) == "" {
				k.add(sub+".replacements", "empty key")
			}
		}
	}
}

func (c *Config) checkChannels(k checker) {
	if len(c.Channels) == 0 {
		k.add("channels", "at least one channel is required")
		return
	}
	ids := map[string]int{}
	var stdinAt string
	udpAt := map[string]string{}   // unicast input host:port -> path
	fileOut := map[string]string{} // caption file path -> path
	udpOut := map[string]string{}  // ts udp destination -> path
	for i := range c.Channels {
		ch := &c.Channels[i]
		path := joinIndex("channels", i)
		switch {
		case ch.ID == "":
			k.add(path+".id", "required")
		case len(ch.ID) > 64 || !channelIDRe.MatchString(ch.ID):
			k.add(path+".id", "invalid id %q (want 1 to 64 of a-z 0-9 _ -)", ch.ID)
		default:
			if j, dup := ids[ch.ID]; dup {
				k.add(path+".id", "duplicate id %q (also channels[%d])", ch.ID, j)
			} else {
				ids[ch.ID] = i
			}
		}
		// A bad value inherited from defaults is reported there, once.
		inherited := func(key, v, def string) bool { return !k.explicit(path+"."+key) && v == def && def != "" }
		if ch.Language == "" {
			k.add(path+".language", "required (an ISO 639-1 or 639-2 code such as \"en\")")
		} else if _, ok := LanguageCode3(ch.Language); !ok && !inherited("language", ch.Language, c.Defaults.Language) {
			k.add(path+".language", "unknown language %q (want an ISO 639-1 or 639-2 code such as \"en\" or \"deu\")", ch.Language)
		}
		if _, ok := c.Model(ch.Model); !ok && !inherited("model", ch.Model, c.Defaults.Model) {
			k.add(path+".model", "unknown model %q (%s)", ch.Model, c.modelChoices())
		}
		k.durRange(path+".restart.min", ch.Restart.Min, 10*time.Millisecond, time.Hour)
		k.durRange(path+".restart.max", ch.Restart.Max, 10*time.Millisecond, 24*time.Hour)
		if ch.Restart.Max < ch.Restart.Min {
			k.add(path+".restart.max", "%s is below restart.min (%s)", ch.Restart.Max, ch.Restart.Min)
		}

		src, srcErr := c.checkInput(k, path+".input", ch)
		if srcErr == nil {
			switch src.Kind {
			case SourceStdin:
				if stdinAt != "" {
					k.add(path+".input.url", "stdin is already the input of %s", stdinAt)
				}
				stdinAt = path
			case SourceUDP:
				if !src.Multicast {
					key := netip.AddrPortFrom(src.Host, src.Port).String()
					if prev, dup := udpAt[key]; dup {
						k.add(path+".input.url", "udp port %d is already bound by %s", src.Port, prev)
					}
					udpAt[key] = path
				}
			}
		}

		if ch.WHIP != nil {
			wp := path + ".whip"
			if srcErr == nil && src.Kind != SourceWHIP {
				k.add(wp, "only valid when input.url is whip")
			} else {
				tok := k.secret(wp, "token", "token_env", ch.WHIP.Token, ch.WHIP.TokenEnv)
				if tok == "" && ch.WHIP.TokenEnv == "" {
					k.add(wp+".token", "required for a whip input (set token or token_env)")
				}
				ch.WHIP.token = tok
			}
			k.enum(wp+".video", ch.WHIP.Video, videoModes)
		}

		report := func(paths ...string) bool {
			for _, p := range paths {
				if k.explicit(p) {
					return true
				}
			}
			return false
		}
		checkCaptions(k, path+".captions", ch.Captions, report)

		c.checkOutputs(k, path, ch, src, srcErr, fileOut, udpOut)
	}
}

func (c *Config) checkInput(k checker, path string, ch *Channel) (Source, error) {
	in := ch.Input
	src, err := ParseSource(in.URL)
	if err != nil {
		k.add(path+".url", "%v", err)
	}
	if err == nil && src.Kind != SourceFile {
		if in.Realtime {
			k.add(path+".realtime", "only valid for file inputs")
		}
		if in.Loop {
			k.add(path+".loop", "only valid for file inputs")
		}
	}
	if err == nil && src.Kind == SourceWHIP {
		if in.Program != 0 {
			k.add(path+".program", "not valid for a whip input")
		}
		if in.AudioPID != 0 {
			k.add(path+".audio_pid", "not valid for a whip input")
		}
		if in.AudioLanguage != "" && k.explicit(path+".audio_language") {
			k.add(path+".audio_language", "not valid for a whip input")
		}
	}
	k.intRange(path+".program", in.Program, 0, 65535)
	if in.AudioPID != 0 && (in.AudioPID < 0x10 || in.AudioPID > 0x1FFE) {
		k.add(path+".audio_pid", "%d is out of range (want 0 for automatic, or 16..8190)", in.AudioPID)
	}
	if in.AudioLanguage != "" {
		if _, ok := LanguageCode3(in.AudioLanguage); !ok {
			k.add(path+".audio_language", "unknown language %q (want an ISO 639 code such as \"eng\")", in.AudioLanguage)
		}
	}
	k.durRange(path+".reconnect.min", in.Reconnect.Min, 10*time.Millisecond, time.Hour)
	k.durRange(path+".reconnect.max", in.Reconnect.Max, 10*time.Millisecond, 24*time.Hour)
	if in.Reconnect.Max < in.Reconnect.Min {
		k.add(path+".reconnect.max", "%s is below reconnect.min (%s)", in.Reconnect.Max, in.Reconnect.Min)
	}
	k.durRange(path+".max_lag", in.MaxLag, 500*time.Millisecond, 5*time.Minute)
	k.durRange(path+".stall_timeout", in.StallTimeout, 100*time.Millisecond, 10*time.Minute)
	return src, err
}

func (c *Config) checkOutputs(k checker, path string, ch *Channel, src Source, srcErr error,
	fileOut, udpOut map[string]string) {
	op := path + ".outputs"
	if len(ch.Outputs) == 0 {
		k.add(op, "at least one output is required (websocket, file or ts)")
		return
	}
	trackOK := func(p, t string) {
		if !oneOf(t, trackNames) {
			k.add(p, "%s (want %s)", quoteOrEmpty(t), strings.Join(trackNames, ", "))
		} else if !ch.Captions.HasTrack(t) {
			k.add(p, "track %q is not in %s.captions.tracks", t, path)
		}
	}
	var wsAt, httpAt string
	for j, o := range ch.Outputs {
		p := joinIndex(op, j)
		if o.Kind() == "" {
			var set []string
			for _, kind := range []struct {
				name string
				on   bool
			}{{"websocket", o.WebSocket != nil}, {"file", o.File != nil}, {"ts", o.TS != nil}} {
				if kind.on {
					set = append(set, kind.name)
				}
			}
			if len(set) == 0 {
				k.add(p, "want exactly one of websocket, file, ts")
			} else {
				k.add(p, "want exactly one of websocket, file, ts (got %s)", strings.Join(set, ", "))
			}
			continue
		}
		switch {
		case o.WebSocket != nil:
			w, wp := o.WebSocket, p+".websocket"
			if wsAt != "" {
				k.add(wp, "a channel has at most one websocket output (also %s)", wsAt)
			}
			wsAt = wp
			if len(w.Tracks) == 0 {
				k.add(wp+".tracks", "at least one track is required")
			}
			for t, name := range w.Tracks {
				trackOK(joinIndex(wp+".tracks", t), name)
			}
			k.intRange(wp+".ring_size", w.RingSize, 1, 1_000_000)
			k.intRange(wp+".max_clients", w.MaxClients, 1, 1_000_000)
			k.intRange(wp+".queue", w.Queue, 1, 65536)
		case o.File != nil:
			f, fp := o.File, p+".file"
			if f.Path == "" {
				k.add(fp+".path", "required")
			} else {
				clean := filepath.Clean(f.Path)
				if prev, dup := fileOut[clean]; dup {
					k.add(fp+".path", "%q is also written by %s", f.Path, prev)
				}
				fileOut[clean] = fp
			}
			if f.Format == "" && f.Path != "" {
				k.add(fp+".format", "required: cannot tell the format from %q (want %s)", filepath.Base(f.Path), strings.Join(fileFormats, ", "))
			} else if f.Path != "" {
				k.enum(fp+".format", f.Format, fileFormats)
			}
			trackOK(fp+".track", f.Track)
			if f.RotateSize != 0 {
				k.sizeRange(fp+".rotate_size", f.RotateSize, 64*KiB, 1<<40)
			}
			if f.RotateInterval != 0 {
				k.durRange(fp+".rotate_interval", f.RotateInterval, time.Minute, 366*24*time.Hour)
			}
			if f.TimestampMap && f.Format != "vtt" {
				k.add(fp+".timestamp_map", "only valid for the vtt format")
			}
		case o.TS != nil:
			t, tp := o.TS, p+".ts"
			if srcErr == nil && !src.TS() {
				k.add(tp, "needs an MPEG-TS input (input is %s)", src.Kind)
			}
			dest, err := t.Destination(ch.ID)
			if err != nil {
				k.add(tp+".url", "%v", err)
			} else {
				switch dest.Kind {
				case DestFile:
					clean := filepath.Clean(dest.Path)
					if prev, dup := fileOut[clean]; dup {
						k.add(tp+".url", "%q is also written by %s", dest.Path, prev)
					}
					fileOut[clean] = tp
				case DestUDP:
					key := netip.AddrPortFrom(dest.Host, dest.Port).String()
					if prev, dup := udpOut[key]; dup {
						k.add(tp+".url", "udp destination %s is also used by %s", key, prev)
					}
					udpOut[key] = tp
				case DestHTTP:
					if httpAt != "" {
						k.add(tp+".url", "a channel serves at most one ts output over http (also %s)", httpAt)
					}
					httpAt = tp
				}
				if t.Iface != "" {
					if err := checkIface(t.Iface); err != nil {
						k.add(tp+".iface", "%v", err)
					} else if !dest.Multicast {
						k.add(tp+".iface", "only valid for a multicast udp destination")
					}
				}
			}
			trackOK(tp+".track", t.Track)
			tt := tp + ".teletext"
			if !t.Teletext.Page.Valid() {
				k.add(tt+".page", "invalid teletext page %d (want 100..899: magazine 1-8 then two decimal digits)", t.Teletext.Page)
			}
			if pid := t.Teletext.PID; pid != 0 && (pid < 0x10 || pid > 0x1FFE) {
				k.add(tt+".pid", "%d is out of range (want 0 for automatic, or 16..8190)", pid)
			}
			// An empty language means the channel's is invalid, reported there.
			if _, ok := LanguageCode3(t.Teletext.Language); !ok && t.Teletext.Language != "" {
				k.add(tt+".language", "unknown language %q (want an ISO 639 code such as \"eng\")", t.Teletext.Language)
			}
			k.enum(tt+".type", t.Teletext.Type, ttxTypes)
			k.intRange(tt+".max_chars_per_line", t.Teletext.MaxCharsPerLine, 8, 34)
			k.enum(tp+".sync", t.Sync, syncModes)
			if t.Sync == "delay" {
				k.durRange(tp+".delay", t.Delay, 100*time.Millisecond, time.Minute)
			}
			k.intRange(tp+".ttl", t.TTL, 1, 255)
			k.intRange(tp+".packets_per_datagram", t.PacketsPerDatagram, 1, 7)
		}
	}
}

func sortedModelNames(m map[string]Model) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := list[:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
