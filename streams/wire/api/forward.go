package api

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"
)

// Port forwarding.
//
// A port forwarding session (a Port document's, or `tether forward`'s) names its
// destinations when it starts: each is a TCP port on the node itself (Host ""), a TCP port
// on a host the node reaches, or a unix socket on the node. Every connection a client opens
// through it names one destination by its index, and the agent asks the control plane
// (VerbForwardOpen) before it dials: policy decides the session as a whole at StartSession
// and again each connection, with the address the node resolved. When the connection ends
// the agent reports it (VerbForwardClosed), and the control plane records it in the audit
// stream and as an event.

// Agent verbs of port forwarding, published on subjects.AgentAPI(agent, verb).
const (
	VerbForwardOpen   = "ForwardOpen"
	VerbForwardClosed = "ForwardClosed"
)

// ActionForwardConnection is the policy action decided for each forwarded connection.
const ActionForwardConnection = "ForwardConnection"

// MaxForwards bounds the destinations of one session.
const MaxForwards = 32

// Forward is one destination of a port forwarding session.
type Forward struct {
	// Host is the host the node dials: "" for the node itself (localhost), else a DNS name
	// or an IP address the node reaches. Empty with UnixSocket.
	Host string `json:"host,omitempty"`
	// Port is the TCP port, 1-65535; 0 with UnixSocket.
	Port int `json:"port,omitempty"`
	// UnixSocket is the absolute path of a unix socket on the node, instead of Host and
	// Port.
	UnixSocket string `json:"unix_socket,omitempty"`
}

// How a forwarded connection ended (ForwardClosedRequest.Reason).
const (
	FwdClientClose = "client_close" // the client closed it (both ways)
	FwdServerClose = "server_close" // the destination closed it
	FwdRefused     = "refused"      // the node could not reach the destination
	FwdPolicy      = "policy"       // policy refused it
	FwdSessionEnd  = "session_end"  // the session ended with the connection open
	FwdError       = "error"        // a protocol or I/O failure (Detail says which)
)

// ForwardOpenRequest asks the control plane whether a connection of a session may open,
// before the agent dials it. The control plane answers only for a session of the calling
// agent that is Connected, and only for one of the session's destinations.
type ForwardOpenRequest struct {
	SessionID string `json:"session_id"`
	ConnID    uint32 `json:"conn_id"`
	Dest      int    `json:"dest"` // the index of the destination in the session's Forwards
	// Address is what the agent will dial: "ip:port" as the node resolved Host, or the
	// unix socket's path.
	Address string `json:"address"`
	// OnNode says Address's IP is one of the node's own (an address of one of its
	// interfaces): policy treats it as the node itself, as it does loopback.
	OnNode bool `json:"on_node,omitempty"`
	// Peer is the client's side of the connection as the client reported it
	// ("127.0.0.1:53122", or the local unix socket's path): information, not identity.
	Peer string `json:"peer,omitempty"`
}

// ForwardOpenResponse is the decision.
type ForwardOpenResponse struct {
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons,omitempty"`
}

// ForwardClosedRequest reports one forwarded connection's end: every connection a client
// asked for is reported once, opened or not.
type ForwardClosedRequest struct {
	SessionID string    `json:"session_id"`
	ConnID    uint32    `json:"conn_id"`
	Dest      int       `json:"dest"`
	Address   string    `json:"address,omitempty"`
	Peer      string    `json:"peer,omitempty"`
	BytesIn   uint64    `json:"bytes_in"`  // client → destination
	BytesOut  uint64    `json:"bytes_out"` // destination → client
	OpenedAt  time.Time `json:"opened_at"`
	ClosedAt  time.Time `json:"closed_at"`
	Reason    string    `json:"reason"` // one of the Fwd* reasons
	Detail    string    `json:"detail,omitempty"`
}

// MaxUnixSocketPath bounds a unix socket's path (sun_path holds 108 bytes with its NUL).
const MaxUnixSocketPath = 107

// Check refuses a destination that is not one: exactly one of a port (with an optional
// host) and an absolute unix socket path. It does not judge whether the host is a valid
// name; the control plane does.
func (f Forward) Check() error {
	switch {
	case f.UnixSocket != "":
		if f.Host != "" || f.Port != 0 {
			return fmt.Errorf("forward to unix socket %.120q names a host or port too", f.UnixSocket)
		}
		if !path.IsAbs(f.UnixSocket) || path.Clean(f.UnixSocket) != f.UnixSocket || strings.ContainsRune(f.UnixSocket, 0) {
			return fmt.Errorf("unix socket %.120q: not a clean absolute path", f.UnixSocket)
		}
		if len(f.UnixSocket) > MaxUnixSocketPath {
			return fmt.Errorf("unix socket path of %d bytes: at most %d", len(f.UnixSocket), MaxUnixSocketPath)
		}
	case f.Port < 1 || f.Port > 65535:
		return fmt.Errorf("port %d: not a port number (1-65535)", f.Port)
	case len(f.Host) > 253 || strings.ContainsAny(f.Host, " \t\r\n/\x00"):
		return fmt.Errorf("host %.64q: not a host name or IP address", f.Host)
	}
	return nil
}

// String names the destination as the CLI shows it: "80", "db.internal:5432",
// "[::1]:22" or "unix:/var/run/docker.sock".
func (f Forward) String() string {
	switch {
	case f.UnixSocket != "":
		return "unix:" + f.UnixSocket
	case f.Host == "":
		return strconv.Itoa(f.Port)
	}
	return net.JoinHostPort(f.Host, strconv.Itoa(f.Port))
}
