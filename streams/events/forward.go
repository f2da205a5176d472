package events

import (
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// ForwardConn is one forwarded connection of a port forwarding session, as its Forward
// event and its audit record describe it: where it went, from where, how much each way,
// for how long, and how it ended.
type ForwardConn struct {
	SessionID string `json:"session_id"`
	Owner     string `json:"owner"`
	Target    string `json:"target"`
	Document  string `json:"document_name,omitempty"`
	ConnID    uint32 `json:"conn_id"`
	// Dest is the index of the destination in the session's forwards; Host, Port and
	// UnixSocket are that destination, Address what the node dialled (or would have).
	Dest       int    `json:"dest"`
	Host       string `json:"host,omitempty"`
	Port       int    `json:"port,omitempty"`
	UnixSocket string `json:"unix_socket,omitempty"`
	Address    string `json:"address,omitempty"`
	// Peer is the client's end as the client reported it.
	Peer     string `json:"peer,omitempty"`
	BytesIn  uint64 `json:"bytes_in"`  // client → destination
	BytesOut uint64 `json:"bytes_out"` // destination → client
	// OpenedAt is zero for a connection that never opened (refused, denied).
	OpenedAt time.Time    `json:"opened_at,omitzero"`
	ClosedAt time.Time    `json:"closed_at"`
	Duration api.Duration `json:"duration"`
	Reason   string       `json:"reason"` // one of api's Fwd* reasons
	Detail   string       `json:"detail,omitempty"`
}
