package clicmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// localListener is one local end of a port forwarding session.
type localListener struct {
	l     net.Listener
	dest  int    // the destination's index in the session's Forwards
	name  string // what the user connects to: "127.0.0.1:9999", "./pg.sock"
	label string // the destination as the user sees it: "web-1:80"
}

// localListeners are a forward's listeners, opened before its session starts so that a
// busy port fails before a session exists.
type localListeners []localListener

// close closes every listener (a unix socket's file goes with it). Closing one twice is
// harmless.
func (ls localListeners) close() {
	for _, l := range ls {
		_ = l.l.Close()
	}
}

// print writes one "Forwarding LOCAL -> TARGET:DEST" line per listener.
func (ls localListeners) print(w io.Writer) {
	for _, l := range ls {
		fmt.Fprintf(w, "Forwarding %s -> %s\n", l.name, l.label)
	}
}

// openListeners listens for each mapping: on bind for a port, at the path for a unix
// socket. dest[i] is mapping i's destination index. On error none stays open.
func openListeners(bind string, ms []mapping, dest []int) (localListeners, error) {
	var ls localListeners
	for i, m := range ms {
		var l net.Listener
		var err error
		if m.localPath != "" {
			l, err = listenUnix(m.localPath)
		} else {
			l, err = listenTCP(bind, m.localPort)
		}
		if err != nil {
			ls.close()
			return nil, fmt.Errorf("mapping %s:%s: %w", m.local(), m.dest, err)
		}
		ls = append(ls, localListener{l: l, dest: dest[i], name: listenerName(bind, m, l)})
	}
	return ls, nil
}

// listenerName is what the user connects to: the socket's path as given, or bind with
// the port listened on (the address as given: 0.0.0.0 stays so, not Go's [::]).
func listenerName(bind string, m mapping, l net.Listener) string {
	if m.localPath != "" {
		return m.localPath
	}
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return l.Addr().String()
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(bind, "["), "]"), strconv.Itoa(a.Port))
}

// listenTCP listens on port (0: a free one) of bind, a host name or an IP address (an
// IPv6 one with or without brackets).
func listenTCP(bind string, port int) (net.Listener, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(bind, "["), "]")
	if host == "" {
		return nil, errors.New("--bind is empty: give an address such as 127.0.0.1")
	}
	return net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
}

// listenUnix listens on a unix socket at path, which only this user may connect to. A
// socket file nobody listens on (left by a tether that was killed) is replaced; any
// other file is not.
func listenUnix(path string) (net.Listener, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("%s exists and is not a socket", path)
	default:
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use: something listens on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	return listenPrivate(path)
}

// bindWarning says, for a --bind other than loopback, that others can use the forward.
func bindWarning(bind string) string {
	host := strings.TrimSuffix(strings.TrimPrefix(bind, "["), "]")
	if host == "localhost" {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return ""
	}
	return fmt.Sprintf("tether: --bind %s: whoever reaches this address can use the forward as you", bind)
}
