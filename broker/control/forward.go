package control

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tetherhq/tether/broker/document"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Port forwarding sessions: their destinations, checked and made canonical.

// maxUnixPath is the longest unix socket path the kernel takes (sun_path).
const maxUnixPath = 108

// checkForwards checks the destinations a StartSession names and returns them canonical:
// "localhost" is the node itself (""), an IP address is written as Go writes it (an
// IPv4-mapped IPv6 address as IPv4), so that policy compares like with like.
func checkForwards(fs []api.Forward) ([]api.Forward, error) {
	if len(fs) > api.MaxForwards {
		return nil, badRequest("StartSession: %d forwards; the limit is %d", len(fs), api.MaxForwards)
	}
	out := make([]api.Forward, len(fs))
	for i, f := range fs {
		c, err := checkForward(f)
		if err != nil {
			return nil, badRequest("StartSession: forwards[%d]: %v", i, err)
		}
		out[i] = c
	}
	return out, nil
}

// checkForward checks one destination: a TCP port, with a host or on the node itself, or
// a unix socket on the node; never both.
func checkForward(f api.Forward) (api.Forward, error) {
	if f.UnixSocket != "" {
		if f.Host != "" || f.Port != 0 {
			return f, fmt.Errorf("a unix socket (%.64q) takes no host or port", f.UnixSocket)
		}
		if err := checkUnixPath(f.UnixSocket); err != nil {
			return f, err
		}
		return f, nil
	}
	if f.Port < 1 || f.Port > 65535 {
		return f, fmt.Errorf("port %d is not a port number (1-65535); give a port, or a unix_socket", f.Port)
	}
	host, err := canonicalHost(f.Host)
	if err != nil {
		return f, err
	}
	return api.Forward{Host: host, Port: f.Port}, nil
}

// canonicalHost checks a destination's host and writes it canonical.
func canonicalHost(h string) (string, error) {
	if h == "" || strings.EqualFold(strings.TrimSuffix(h, "."), "localhost") {
		return "", nil
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		return a.Unmap().String(), nil
	}
	if err := document.ValidHost(h); err != nil {
		return "", fmt.Errorf("host: %w", err)
	}
	// A name whose last label is all digits is no DNS name, but a resolver may read it
	// as an address in another notation ("2852039166", "0251.0376.0251.0376"), and the
	// policy would not know which.
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	if _, err := strconv.ParseUint(labels[len(labels)-1], 10, 64); err == nil {
		return "", fmt.Errorf("host %.64q is neither an IP address nor a host name (its last label is a number)", h)
	}
	return strings.ToLower(h), nil
}

// checkUnixPath checks the path of a unix socket on the node.
func checkUnixPath(p string) error {
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("unix socket path %.64q contains a NUL byte", p)
	case !utf8.ValidString(p):
		return fmt.Errorf("unix socket path %.64q is not valid UTF-8", p)
	case !path.IsAbs(p):
		return fmt.Errorf("unix socket path %.64q is not absolute", p)
	case path.Clean(p) != p:
		return fmt.Errorf("unix socket path %.64q is not clean (want %.64q)", p, path.Clean(p))
	case len(p) > maxUnixPath:
		return fmt.Errorf("unix socket path is %d bytes; the limit is %d", len(p), maxUnixPath)
	}
	return nil
}

// forwardFromSpec is the destination of a Port document.
func forwardFromSpec(name string, spec *document.PortSpec) (api.Forward, error) {
	if spec == nil {
		return api.Forward{}, fmt.Errorf("document %s resolved to no port", name)
	}
	port, err := strconv.Atoi(spec.PortNumber)
	if err != nil {
		return api.Forward{}, fmt.Errorf("document %s: portNumber %.16q is not a number", name, spec.PortNumber)
	}
	f, err := checkForward(api.Forward{Host: spec.Host, Port: port})
	if err != nil {
		return f, fmt.Errorf("document %s: %w", name, err)
	}
	return f, nil
}

// forwardsInput is the destinations as the policy sees them.
func forwardsInput(fs []api.Forward) []policies.Forward {
	if len(fs) == 0 {
		return nil
	}
	out := make([]policies.Forward, len(fs))
	for i, f := range fs {
		out[i] = policies.Forward{Host: f.Host, Port: f.Port, UnixSocket: f.UnixSocket}
	}
	return out
}
