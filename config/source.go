package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// SourceKind is the transport of a channel input.
type SourceKind string

// Input transports.
const (
	SourceFile  SourceKind = "file"
	SourceUDP   SourceKind = "udp"
	SourceHTTP  SourceKind = "http" // http and https
	SourceStdin SourceKind = "stdin"
	SourceWHIP  SourceKind = "whip"
)

// Source is a parsed input URL.
type Source struct {
	Kind SourceKind
	// Path is the file of a file source.
	Path string
	// URL is the full URL of an http source.
	URL string
	// Host is the UDP address to bind (unicast; invalid means all
	// interfaces) or the group to join (multicast).
	Host netip.Addr
	// Port is the UDP port.
	Port uint16
	// Multicast is set when Host is a multicast group.
	Multicast bool
	// SourceAddr is the sender of a source-specific multicast join.
	SourceAddr netip.Addr
	// Iface is the interface to join a multicast group on.
	Iface string
}

// TS reports whether the source carries MPEG-TS (every kind but whip).
func (s Source) TS() bool { return s.Kind != SourceWHIP }

// ParseSource parses an input URL:
//
//	/path/file.ts, file.ts, file:///path/file.ts
//	udp://[src@]host:port[?iface=NAME]   (host empty: all interfaces)
//	http://..., https://...
//	-, stdin
//	whip
func ParseSource(raw string) (Source, error) {
	switch raw {
	case "":
		return Source{}, fmt.Errorf("required")
	case "-", "stdin":
		return Source{Kind: SourceStdin}, nil
	case "whip":
		return Source{Kind: SourceWHIP}, nil
	}
	scheme, ok := urlScheme(raw)
	if !ok {
		return Source{Kind: SourceFile, Path: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("invalid URL %q: %v", raw, unwrapURLError(err))
	}
	switch scheme {
	case "file":
		p, err := filePath(u, raw)
		if err != nil {
			return Source{}, err
		}
		return Source{Kind: SourceFile, Path: p}, nil
	case "http", "https":
		if u.Host == "" {
			return Source{}, fmt.Errorf("%s URL %q has no host", scheme, raw)
		}
		if u.User != nil {
			if _, hasPass := u.User.Password(); !hasPass {
				return Source{}, fmt.Errorf("%s URL %q: user info without a password", scheme, raw)
			}
		}
		return Source{Kind: SourceHTTP, URL: raw}, nil
	case "udp":
		return parseUDPSource(u, raw)
	case "stdin", "whip":
		if u.Host != "" || u.Path != "" || u.RawQuery != "" {
			return Source{}, fmt.Errorf("%s takes no address (write url: %s)", scheme, scheme)
		}
		return Source{Kind: SourceKind(scheme)}, nil
	}
	return Source{}, fmt.Errorf("unsupported scheme %q (want file, udp, http, https, stdin, whip)", scheme)
}

func parseUDPSource(u *url.URL, raw string) (Source, error) {
	s := Source{Kind: SourceUDP}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" || u.Opaque != "" {
		return s, fmt.Errorf("udp URL %q: only udp://[source@]host:port[?iface=NAME] is allowed", raw)
	}
	host, port, err := hostPort(u.Host, raw)
	if err != nil {
		return s, err
	}
	s.Port = port
	if host != "" {
		addr, err := netip.ParseAddr(host)
		if err != nil || addr.Zone() != "" {
			return s, fmt.Errorf("udp host %q must be an IP address", host)
		}
		s.Host = addr.Unmap()
		s.Multicast = s.Host.IsMulticast()
	}
	if u.User != nil {
		if _, hasPass := u.User.Password(); hasPass {
			return s, fmt.Errorf("udp URL %q: the part before @ must be a source address", raw)
		}
		if src := u.User.Username(); src != "" {
			addr, err := netip.ParseAddr(src)
			if err != nil {
				return s, fmt.Errorf("udp source %q must be an IP address", src)
			}
			if !s.Multicast {
				return s, fmt.Errorf("udp source %s given but %q is not a multicast group", src, host)
			}
			if addr.IsMulticast() || addr.IsUnspecified() {
				return s, fmt.Errorf("udp source %s must be a unicast address", src)
			}
			if addr.Unmap().Is4() != s.Host.Is4() {
				return s, fmt.Errorf("udp source %s and group %s are of different IP versions", src, host)
			}
			s.SourceAddr = addr.Unmap()
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return s, fmt.Errorf("udp URL %q: bad query: %v", raw, err)
	}
	for k, v := range q {
		if k != "iface" {
			return s, fmt.Errorf("udp URL %q: unsupported parameter %q (want iface)", raw, k)
		}
		if len(v) != 1 {
			return s, fmt.Errorf("udp URL %q: iface given %d times", raw, len(v))
		}
		if err := checkIface(v[0]); err != nil {
			return s, err
		}
		if !s.Multicast {
			return s, fmt.Errorf("iface is only used with a multicast group, and %q is not one", host)
		}
		s.Iface = v[0]
	}
	return s, nil
}

// DestKind is the transport of a TS output.
type DestKind string

// TS output transports.
const (
	DestFile DestKind = "file"
	DestUDP  DestKind = "udp"
	DestHTTP DestKind = "http"
)

// Destination is a parsed TS output URL.
type Destination struct {
	Kind DestKind
	// Path is the file of a file destination, or the URL path an http
	// destination is served at.
	Path string
	// Host and Port address a UDP destination.
	Host      netip.Addr
	Port      uint16
	Multicast bool
}

// ParseDestination parses a TS output URL: a file path or file:///path,
// udp://host:port, or "http" (served by the daemon at
// /v1/channels/{channelID}/ts).
func ParseDestination(raw, channelID string) (Destination, error) {
	if raw == "" {
		return Destination{}, fmt.Errorf("required")
	}
	if raw == "http" {
		return Destination{Kind: DestHTTP, Path: "/v1/channels/" + channelID + "/ts"}, nil
	}
	if raw == "-" || raw == "stdout" {
		return Destination{}, fmt.Errorf("stdout is not a daemon output (use subtitled mux)")
	}
	scheme, ok := urlScheme(raw)
	if !ok {
		return Destination{Kind: DestFile, Path: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Destination{}, fmt.Errorf("invalid URL %q: %v", raw, unwrapURLError(err))
	}
	switch scheme {
	case "file":
		p, err := filePath(u, raw)
		if err != nil {
			return Destination{}, err
		}
		return Destination{Kind: DestFile, Path: p}, nil
	case "udp":
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
			return Destination{}, fmt.Errorf("udp URL %q: only udp://host:port is allowed (ttl and iface are keys of their own)", raw)
		}
		host, port, err := hostPort(u.Host, raw)
		if err != nil {
			return Destination{}, err
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || addr.Zone() != "" {
			return Destination{}, fmt.Errorf("udp host %q must be an IP address", host)
		}
		addr = addr.Unmap()
		if addr.IsUnspecified() {
			return Destination{}, fmt.Errorf("udp destination %s is unspecified", host)
		}
		return Destination{Kind: DestUDP, Host: addr, Port: port, Multicast: addr.IsMulticast()}, nil
	}
	return Destination{}, fmt.Errorf("unsupported scheme %q (want file, udp, or http)", scheme)
}

// urlScheme returns the scheme of raw when it looks like a URL (a letter,
// then letters, digits, + - ., then "://" or ":"); a path has none.
func urlScheme(raw string) (string, bool) {
	i := strings.Index(raw, ":")
	if i <= 0 {
		return "", false
	}
	for j, r := range raw[:i] {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (j == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", false
		}
	}
	// "C:" style or "name:with:colons.ts" without "//" is a file name.
	if !strings.HasPrefix(raw[i:], "://") {
		return "", false
	}
	return strings.ToLower(raw[:i]), true
}

func filePath(u *url.URL, raw string) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("file URL %q names host %q (want file:///path)", raw, u.Host)
	}
	if u.Path == "" || u.Path == "/" {
		return "", fmt.Errorf("file URL %q has no path", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("file URL %q: query and fragment are not allowed", raw)
	}
	return u.Path, nil
}

func hostPort(hostport, raw string) (string, uint16, error) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || strings.Contains(hostport[i:], "]") {
		return "", 0, fmt.Errorf("%q has no port", raw)
	}
	host, portStr := hostport[:i], hostport[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || p == 0 {
		return "", 0, fmt.Errorf("%q: port %q must be 1..65535", raw, portStr)
	}
	return host, uint16(p), nil
}

func checkIface(name string) error {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t:") {
		return fmt.Errorf("invalid interface name %q", name)
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
