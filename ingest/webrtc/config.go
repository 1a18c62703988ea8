package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/stun/v4"
	pwebrtc "github.com/pion/webrtc/v4"
)

// Defaults applied by NewServer to zero Config fields.
const (
	DefaultMaxSessions  = 16
	DefaultSetupTimeout = 30 * time.Second
	DefaultMaxBodyBytes = 64 << 10
)

// ICE timing used for every session.
const (
	iceDisconnectedTimeout = 5 * time.Second
	iceFailedTimeout       = 10 * time.Second
	iceKeepalive           = 2 * time.Second
	stunGatherTimeout      = 3 * time.Second
	// gatherWait bounds how long a POST waits for candidate gathering.
	gatherWait = 5 * time.Second
)

// ErrConfig is wrapped by every configuration error from NewServer; the
// message names the offending field.
var ErrConfig = errors.New("webrtc: invalid config")

// Config is the server-wide WHIP configuration.
type Config struct {
	MaxSessions    int           // 0 → 16; beyond it POST gets 503 + Retry-After
	SetupTimeout   time.Duration // 0 → 30 s; a session whose peer connection is not "connected" by then is closed and counted as reaped
	AllowedOrigins []string      // CORS allow-list; "*" = any; empty = no CORS headers
	MaxBodyBytes   int64         // 0 → 64 KiB; larger offers → 413
	ICE            ICEConfig
	Logger         *slog.Logger // nil → slog.Default()
}

// ICEConfig selects the candidates the server gathers and advertises.
type ICEConfig struct {
	UDPPortMin, UDPPortMax uint16   // both 0: any port
	NAT1To1IPs             []string // advertised as host candidates ("EXTERNAL" or "EXTERNAL/LOCAL")
	STUNServers            []string // "stun:host:port" URLs
	Interfaces             []string // restrict host candidates to these interfaces (empty: all)
	Loopback               bool     // also gather loopback candidates (tests, local publishers)
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.MaxSessions == 0 {
		out.MaxSessions = DefaultMaxSessions
	}
	if out.SetupTimeout == 0 {
		out.SetupTimeout = DefaultSetupTimeout
	}
	if out.MaxBodyBytes == 0 {
		out.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	out.AllowedOrigins = append([]string(nil), c.AllowedOrigins...)
	return out
}

func (c *Config) validate() error {
	if c.MaxSessions < 0 {
		return fmt.Errorf("%w: MaxSessions %d is negative", ErrConfig, c.MaxSessions)
	}
	if c.SetupTimeout < 0 {
		return fmt.Errorf("%w: SetupTimeout %v is negative", ErrConfig, c.SetupTimeout)
	}
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("%w: MaxBodyBytes %d is negative", ErrConfig, c.MaxBodyBytes)
	}
	for i, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("%w: AllowedOrigins[%d] %q is not \"*\" or scheme://host[:port]", ErrConfig, i, o)
		}
	}
	ic := &c.ICE
	if (ic.UDPPortMin == 0) != (ic.UDPPortMax == 0) || ic.UDPPortMin > ic.UDPPortMax {
		return fmt.Errorf("%w: ICE.UDPPortMin/UDPPortMax %d-%d is not a range (set both, min ≤ max, or neither)",
			ErrConfig, ic.UDPPortMin, ic.UDPPortMax)
	}
	for i, s := range ic.NAT1To1IPs {
		if _, _, err := parseNAT1To1(s); err != nil {
			return fmt.Errorf("%w: ICE.NAT1To1IPs[%d] %q: %w", ErrConfig, i, s, err)
		}
	}
	for i, s := range ic.STUNServers {
		u, err := stun.ParseURI(s)
		if err != nil {
			return fmt.Errorf("%w: ICE.STUNServers[%d] %q: %w", ErrConfig, i, s, err)
		}
		if u.Scheme != stun.SchemeTypeSTUN && u.Scheme != stun.SchemeTypeSTUNS {
			return fmt.Errorf("%w: ICE.STUNServers[%d] %q: not a stun: or stuns: URL", ErrConfig, i, s)
		}
	}
	for i, name := range ic.Interfaces {
		if _, err := net.InterfaceByName(name); err != nil {
			return fmt.Errorf("%w: ICE.Interfaces[%d] %q: %w", ErrConfig, i, name, err)
		}
	}
	return nil
}

// parseNAT1To1 accepts "EXTERNAL" or "EXTERNAL/LOCAL" with IP addresses.
func parseNAT1To1(s string) (external, local string, err error) {
	external, local, _ = strings.Cut(s, "/")
	if net.ParseIP(external) == nil {
		return "", "", fmt.Errorf("external address %q is not an IP address", external)
	}
	if local != "" && net.ParseIP(local) == nil {
		return "", "", fmt.Errorf("local address %q is not an IP address", local)
	}
	return external, local, nil
}

// newAPI builds the pion API shared by every session: Opus only, RTCP
// receiver reports, and the ICE settings from cfg.
func newAPI(cfg *Config) (*pwebrtc.API, error) {
	me := &pwebrtc.MediaEngine{}
	err := me.RegisterCodec(pwebrtc.RTPCodecParameters{
		RTPCodecCapability: pwebrtc.RTPCodecCapability{
			MimeType:    pwebrtc.MimeTypeOpus,
			ClockRate:   48000,
			Channels:    2,
			SDPFmtpLine: "minptime=10;useinbandfec=1",
		},
		PayloadType: 111,
	}, pwebrtc.RTPCodecTypeAudio)
	if err != nil {
		return nil, fmt.Errorf("webrtc: register Opus: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := pwebrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("webrtc: RTCP reports: %w", err)
	}

	se := pwebrtc.SettingEngine{}
	se.LoggerFactory = slogFactory{cfg.Logger}
	se.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepalive)
	se.SetSTUNGatherTimeout(stunGatherTimeout)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pwebrtc.NetworkType{pwebrtc.NetworkTypeUDP4, pwebrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(cfg.ICE.Loopback)
	if cfg.ICE.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.ICE.UDPPortMin, cfg.ICE.UDPPortMax); err != nil {
			return nil, fmt.Errorf("%w: ICE.UDPPortMin/UDPPortMax: %w", ErrConfig, err)
		}
	}
	if len(cfg.ICE.Interfaces) > 0 {
		allowed := make(map[string]bool, len(cfg.ICE.Interfaces))
		for _, n := range cfg.ICE.Interfaces {
			allowed[n] = true
		}
		se.SetInterfaceFilter(func(name string) bool { return allowed[name] })
	}
	if len(cfg.ICE.NAT1To1IPs) > 0 {
		var rules []pwebrtc.ICEAddressRewriteRule
		var catchAll []string
		for _, s := range cfg.ICE.NAT1To1IPs {
			ext, local, _ := parseNAT1To1(s)
			if local == "" {
				catchAll = append(catchAll, ext)
				continue
			}
			rules = append(rules, pwebrtc.ICEAddressRewriteRule{
				External: []string{ext}, Local: local,
				AsCandidateType: pwebrtc.ICECandidateTypeHost, Mode: pwebrtc.ICEAddressRewriteReplace,
			})
		}
		if len(catchAll) > 0 {
			rules = append(rules, pwebrtc.ICEAddressRewriteRule{
				External:        catchAll,
				AsCandidateType: pwebrtc.ICECandidateTypeHost, Mode: pwebrtc.ICEAddressRewriteReplace,
			})
		}
		if err := se.SetICEAddressRewriteRules(rules...); err != nil {
			return nil, fmt.Errorf("%w: ICE.NAT1To1IPs: %w", ErrConfig, err)
		}
	}
	return pwebrtc.NewAPI(
		pwebrtc.WithMediaEngine(me),
		pwebrtc.WithInterceptorRegistry(ir),
		pwebrtc.WithSettingEngine(se),
	), nil
}

// iceServers turns the STUN URLs into the PeerConnection configuration.
func iceServers(cfg *Config) []pwebrtc.ICEServer {
	if len(cfg.ICE.STUNServers) == 0 {
		return nil
	}
	return []pwebrtc.ICEServer{{URLs: append([]string(nil), cfg.ICE.STUNServers...)}}
}
