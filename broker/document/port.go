package document

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/tetherhq/tether/streams/wire/api"
)

// PortForwardingLocal is the one properties.type of a Port document SSM defines.
const PortForwardingLocal = "LocalPortForwarding"

// PortSpec is a Port document's properties with parameters substituted and checked.
type PortSpec struct {
	Type            string // PortForwardingLocal, or "" (SSM's AWS-StartSSHSession has none)
	PortNumber      string // 1-65535
	LocalPortNumber string // 0-65535, 0 for any; "" when the document gives none
	Host            string // a host name or IP address; "" for the target itself
}

// portTemplate holds a Port document's properties, placeholders and all.
type portTemplate struct {
	typ                         string
	portNumber, localPort, host string
}

var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

func (d *Document) buildPort(p *rawProperties) (*portTemplate, error) {
	if p == nil || !p.PortNumber.set {
		return nil, fmt.Errorf("document: properties.portNumber is required in a %s document", api.SessionTypePort)
	}
	for _, os := range []struct {
		name string
		p    *rawPlatform
	}{{"linux", p.Linux}, {"windows", p.Windows}, {"macos", p.MacOS}} {
		if os.p != nil {
			return nil, fmt.Errorf("document: properties.%s is not allowed in a %s document; it has no commands", os.name, api.SessionTypePort)
		}
	}
	if p.Type.v != "" && p.Type.v != PortForwardingLocal {
		return nil, fmt.Errorf("document: properties.type %.64q is not supported (want %s)", p.Type.v, PortForwardingLocal)
	}
	t := &portTemplate{typ: p.Type.v, portNumber: p.PortNumber.v, localPort: p.LocalPortNumber.v, host: p.Host.v}
	for _, f := range []struct{ name, v string }{{"portNumber", t.portNumber}, {"localPortNumber", t.localPort}, {"host", t.host}} {
		phs, err := d.placeholders("properties."+f.name, f.v)
		if err != nil {
			return nil, err
		}
		for _, ph := range phs {
			if d.params[ph.name].typ == TypeStringList {
				return nil, fmt.Errorf("document: properties.%s: StringList parameter {{ %s }} cannot be used here", f.name, ph.name)
			}
		}
		if len(phs) == 0 { // a literal: check it now
			if _, err := portProperty(f.name, f.v); err != nil {
				return nil, fmt.Errorf("document: properties.%w", err)
			}
		}
	}
	return t, nil
}

func (t *portTemplate) resolve(vals map[string][]string) (*PortSpec, error) {
	subst := func(s string) string {
		return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
			return vals[strings.TrimSpace(m[2:len(m)-2])][0]
		})
	}
	spec := &PortSpec{Type: t.typ}
	for _, f := range []struct {
		name, v string
		out     *string
	}{{"portNumber", t.portNumber, &spec.PortNumber}, {"localPortNumber", t.localPort, &spec.LocalPortNumber}, {"host", t.host, &spec.Host}} {
		v, err := portProperty(f.name, subst(f.v))
		if err != nil {
			return nil, err
		}
		*f.out = v
	}
	return spec, nil
}

// portProperty checks one property of a Port document and returns it canonical.
func portProperty(name, v string) (string, error) {
	switch name {
	case "portNumber", "localPortNumber":
		if v == "" && name == "localPortNumber" {
			return "", nil
		}
		lo := 1
		if name == "localPortNumber" {
			lo = 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > 65535 || strings.HasPrefix(v, "+") {
			return "", fmt.Errorf("%s %.64q is not a port number (%d-65535)", name, v, lo)
		}
		return strconv.Itoa(n), nil
	default: // host
		if v == "" {
			return "", nil
		}
		if err := ValidHost(v); err != nil {
			return "", fmt.Errorf("host: %w", err)
		}
		return v, nil
	}
}

// ValidHost accepts an IP address (without a zone) or a DNS name.
func ValidHost(s string) error {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return nil
	}
	name := strings.TrimSuffix(s, ".")
	if len(name) == 0 || len(name) > 253 {
		return fmt.Errorf("%.64q is not a host name or IP address", s)
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabelRE.MatchString(label) {
			return fmt.Errorf("%.64q is not a host name or IP address", s)
		}
	}
	return nil
}
