package clicmd

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tetherhq/tether/streams/wire/api"
)

// A port mapping of `tether forward` is LOCAL:DEST, where LOCAL is
//
//	a port, 0-65535 (0: a free one, printed)
//	a unix socket path: any LOCAL with a slash (./pg.sock), or every LOCAL with
//	  --local-unix-socket (pg.sock)
//
// and DEST is
//
//	PORT              a port on the node itself
//	HOST:PORT         a port on a host the node reaches (an IPv6 address in brackets:
//	                  [fd00::1]:5432)
//	unix:/PATH        a unix socket on the node
//
// A local path cannot hold a colon; a remote one can (everything after "unix:").

// mapping is one parsed LOCAL:DEST.
type mapping struct {
	localPort int    // when localPath is ""
	localPath string // a local unix socket, as given
	dest      api.Forward
}

// local is how the mapping's local side was given, for messages.
func (m mapping) local() string {
	if m.localPath != "" {
		return m.localPath
	}
	return strconv.Itoa(m.localPort)
}

// parseMappings parses the mappings of `tether forward`: at least one, at most
// api.MaxForwards, no local port or path twice.
func parseMappings(args []string, localUnix bool) ([]mapping, error) {
	if len(args) == 0 {
		return nil, errors.New("missing MAPPING (LOCAL:PORT, LOCAL:HOST:PORT or LOCAL:unix:/PATH)")
	}
	if len(args) > api.MaxForwards {
		return nil, fmt.Errorf("%d mappings: at most %d in one session", len(args), api.MaxForwards)
	}
	ms := make([]mapping, 0, len(args))
	ports := map[int]string{}
	paths := map[string]string{}
	for _, arg := range args {
		m, err := parseMapping(arg, localUnix)
		if err != nil {
			return nil, err
		}
		if m.localPath != "" {
			clean := filepath.Clean(m.localPath)
			if prev, ok := paths[clean]; ok {
				return nil, fmt.Errorf("mapping %q: local socket %s is already used by %q", arg, m.localPath, prev)
			}
			paths[clean] = arg
		} else if m.localPort != 0 {
			if prev, ok := ports[m.localPort]; ok {
				return nil, fmt.Errorf("mapping %q: local port %d is already used by %q", arg, m.localPort, prev)
			}
			ports[m.localPort] = arg
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// parseMapping parses one LOCAL:DEST.
func parseMapping(arg string, localUnix bool) (mapping, error) {
	bad := func(format string, a ...any) (mapping, error) {
		return mapping{}, fmt.Errorf("mapping %.100q: %s", arg, fmt.Sprintf(format, a...))
	}
	local, dest, ok := strings.Cut(arg, ":")
	if !ok {
		return bad("want LOCAL:PORT, LOCAL:HOST:PORT or LOCAL:unix:/PATH (e.g. 9999:80)")
	}
	var m mapping
	switch {
	case local == "":
		return bad("no local port or socket before the first colon")
	case localUnix || strings.ContainsRune(local, '/'):
		if strings.ContainsRune(local, 0) {
			return bad("local socket path holds a NUL byte")
		}
		if len(local) > api.MaxUnixSocketPath {
			return bad("local socket path of %d bytes: at most %d", len(local), api.MaxUnixSocketPath)
		}
		m.localPath = local
	default:
		p, err := parsePort(local)
		if err != nil {
			return bad("local port %.20q: %v (a unix socket path needs a slash, ./%s, or --local-unix-socket)", local, err, local)
		}
		m.localPort = p
	}
	d, err := parseDest(dest)
	if err != nil {
		return bad("%v", err)
	}
	m.dest = d
	return m, nil
}

// parseDest parses the DEST of a mapping: PORT, HOST:PORT, [IPV6]:PORT or unix:/PATH.
func parseDest(s string) (api.Forward, error) {
	var f api.Forward
	switch {
	case s == "":
		return f, errors.New("nothing after LOCAL: want PORT, HOST:PORT or unix:/PATH")
	case strings.HasPrefix(s, "unix:"):
		f.UnixSocket = strings.TrimPrefix(s, "unix:")
		if f.UnixSocket == "" {
			return f, errors.New("unix: names no socket path (want unix:/PATH)")
		}
		return f, f.Check()
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return f, fmt.Errorf("%.60q: no closing bracket", s)
		}
		addr, err := netip.ParseAddr(s[1:end])
		if err != nil || !addr.Is6() || addr.Is4In6() {
			return f, fmt.Errorf("%.60q: not an IPv6 address in brackets", s[:end+1])
		}
		rest, ok := strings.CutPrefix(s[end+1:], ":")
		if !ok {
			return f, fmt.Errorf("%.60q: want [IPV6]:PORT", s)
		}
		f.Host = addr.String()
		if f.Port, err = parseRemotePort(rest); err != nil {
			return f, err
		}
	default:
		host, port, ok := strings.Cut(s, ":")
		if !ok {
			host, port = "", s
		} else if strings.Contains(port, ":") {
			return f, fmt.Errorf("%.60q: too many colons (an IPv6 address goes in brackets: [::1]:5432)", s)
		} else if err := checkHost(host); err != nil {
			return f, err
		}
		f.Host = host
		var err error
		if f.Port, err = parseRemotePort(port); err != nil {
			return f, err
		}
	}
	return f, f.Check()
}

// checkHost refuses what cannot be a host name or an IPv4 address. The broker judges
// further (and resolves it on the node).
func checkHost(h string) error {
	switch {
	case h == "":
		return errors.New("empty host before the port (want HOST:PORT)")
	case len(h) > 253:
		return fmt.Errorf("host of %d bytes: at most 253", len(h))
	case h[0] == '-' || h[0] == '.':
		return fmt.Errorf("host %.64q: starts with %q", h, h[0])
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("host %.64q: %q is not allowed in a host name", h, r)
		}
	}
	return nil
}

// parsePort reads a port number 0-65535 in plain decimal digits.
func parsePort(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a port number")
	}
	p, _ := strconv.Atoi(s)
	if p > 65535 {
		return 0, errors.New("not a port number (0-65535)")
	}
	return p, nil
}

// parseRemotePort reads a destination port, 1-65535.
func parseRemotePort(s string) (int, error) {
	p, err := parsePort(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("port %.20q: %v (1-65535)", s, err)
	case p == 0:
		return 0, errors.New("port 0: not a destination (1-65535)")
	}
	return p, nil
}

// destinations lists the distinct destinations of ms, for the session's Forwards, and
// each mapping's index among them.
func destinations(ms []mapping) (dests []api.Forward, index []int) {
	seen := map[api.Forward]int{}
	for _, m := range ms {
		i, ok := seen[m.dest]
		if !ok {
			i = len(dests)
			seen[m.dest] = i
			dests = append(dests, m.dest)
		}
		index = append(index, i)
	}
	return dests, index
}
