package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/events"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// The connections of port forwarding sessions. The agent asks before it dials each one
// (ForwardOpen: the policy decides for the session's owner, with the address the node
// resolved) and reports each one once it ended (ForwardClosed: an audit record and an
// event). Both are answered only for a session that runs on the calling agent, whose
// identity is the subject its connection may publish on, never the body.

// forwardEndpoints are the agents' port forwarding verbs.
func (s *Service) forwardEndpoints() []endpoint {
	eps := []endpoint{
		ownerPolicyVerb(api.VerbForwardOpen, api.ActionForwardConnection, api.MaxRequest, s.forwardOpen),
		selfVerb(accounts.KindAgent, api.VerbForwardClosed, api.MaxRequest, s.forwardClosed),
	}
	// A client may open many connections at once: their decisions and reports must not
	// queue behind, nor crowd out, the agent's heartbeats.
	for i := range eps {
		eps[i].ownPool = true
	}
	return eps
}

// Bounds of what an agent reports about a connection.
const (
	maxPeer        = 256
	maxAddress     = 256
	maxFwdDetail   = 1024
	maxFwdBytes    = 1 << 50 // a PiB each way: more is a broken counter
	maxFwdDuration = 366 * 24 * time.Hour
	// ActionForwardClosed names the audit records of ended connections.
	ActionForwardClosed = api.VerbForwardClosed
)

var fwdReasons = map[string]bool{
	api.FwdClientClose: true, api.FwdServerClose: true, api.FwdRefused: true,
	api.FwdPolicy: true, api.FwdSessionEnd: true, api.FwdError: true,
}

// agentPortSession loads a port forwarding session that runs on c and the destination
// dest of it.
func (s *Service) agentPortSession(ctx context.Context, c caller, verb, id string, dest int) (api.Session, api.Forward, error) {
	se, err := s.loadSession(ctx, id)
	if err != nil {
		return se, api.Forward{}, err
	}
	if se.Target != c.name {
		return se, api.Forward{}, &api.Error{Code: api.CodeAccessDenied, Message: "session " + id + " does not run on " + c.name}
	}
	if se.SessionType != api.SessionTypePort || len(se.Forwards) == 0 {
		return se, api.Forward{}, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("%s: session %s is not a port forwarding session", verb, id)}
	}
	if dest < 0 || dest >= len(se.Forwards) {
		return se, api.Forward{}, badRequest("%s: dest %d is not a destination of session %s (it has %d)", verb, dest, id, len(se.Forwards))
	}
	return se, se.Forwards[dest], nil
}

// checkText refuses a reported string that is too long or not printable UTF-8.
func checkText(verb, field, v string, limit int) error {
	if len(v) > limit {
		return badRequest("%s: %s is %d bytes; the limit is %d", verb, field, len(v), limit)
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return badRequest("%s: %s %.64q has control characters or is not UTF-8", verb, field, v)
	}
	return nil
}

// dialedAddress checks the address the node reports it dials for destination f and
// returns its IP ("" for a unix socket). For a TCP destination it must be "ip:port" with
// the destination's port; for a unix socket, an absolute clean path (the node may report
// the path it resolved).
func dialedAddress(verb string, f api.Forward, addr string) (string, error) {
	if f.UnixSocket != "" {
		if addr == "" {
			return "", nil
		}
		if err := checkUnixPath(addr); err != nil {
			return "", badRequest("%s: address: %v", verb, err)
		}
		return "", nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return "", badRequest("%s: address %.64q is not ip:port", verb, addr)
	}
	if int(ap.Port()) != f.Port {
		return "", badRequest("%s: address %s is not on the destination's port %d", verb, addr, f.Port)
	}
	return ap.Addr().Unmap().WithZone("").String(), nil
}

// checkForwardOpenText checks r's free text, before anything is looked up for it.
func checkForwardOpenText(r *api.ForwardOpenRequest) error {
	if err := checkText(api.VerbForwardOpen, "peer", r.Peer, maxPeer); err != nil {
		return err
	}
	return checkText(api.VerbForwardOpen, "address", r.Address, maxAddress)
}

// forwardOpenIP checks what r says of the connection to its session's destination f, and
// returns the IP it will dial ("" for a unix socket).
func forwardOpenIP(r *api.ForwardOpenRequest, f api.Forward) (string, error) {
	const verb = api.VerbForwardOpen
	ip, err := dialedAddress(verb, f, r.Address)
	if err != nil {
		return "", err
	}
	if r.OnNode && ip == "" {
		return "", badRequest("%s: on_node is said of a TCP address, not of unix socket %.64q", verb, f.UnixSocket)
	}
	return ip, nil
}

// forwardOpen decides whether a connection may open. A denial is an answer, not an
// error: the agent closes the connection with the reasons.
func (s *Service) forwardOpen(ctx context.Context, c caller, r *api.ForwardOpenRequest) (any, error) {
	const verb = api.VerbForwardOpen
	if err := checkForwardOpenText(r); err != nil {
		return nil, err
	}
	se, f, err := s.agentPortSession(ctx, c, verb, r.SessionID, r.Dest)
	if err != nil {
		return nil, err
	}
	if se.State != api.StateConnected {
		return nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("%s: session %s is %s, not Connected", verb, se.ID, se.State)}
	}
	ip, err := forwardOpenIP(r, f)
	if err != nil {
		return nil, err
	}
	address := r.Address
	if f.UnixSocket != "" && address == "" {
		address = f.UnixSocket
	}
	in := policies.Input{
		Session:  sessionInput(se),
		Document: &policies.Document{Name: se.Document, Type: se.SessionType, Version: se.DocumentVersion},
		Forward: &policies.ForwardConn{
			Dest: r.Dest, Host: f.Host, Port: f.Port, UnixSocket: f.UnixSocket,
			Address: address, IP: ip, OnNode: r.OnNode, Peer: r.Peer,
		},
	}
	if inst, _, err := getJSON[storedInstance](ctx, s.b.Instances, se.Target); err == nil {
		in.Target = targetInput(inst)
	}
	_, rec, err := s.decide(ctx, s.owner(se), api.ActionForwardConnection, in)
	if err != nil {
		var ae *api.Error
		if !errors.As(err, &ae) {
			return nil, err
		}
		reasons := ae.Reasons
		if len(reasons) == 0 {
			reasons = []string{ae.Message}
		}
		return api.ForwardOpenResponse{Allowed: false, Reasons: reasons}, nil
	}
	rec.write(nil, nil)
	return api.ForwardOpenResponse{Allowed: true}, nil
}

// owner is the session's owner as a caller of the decisions made for it: the principal
// the user directory has now (a user removed since has no groups, and the policy decides
// as it would for a stranger).
func (s *Service) owner(se api.Session) caller {
	p := api.Principal{Name: se.Owner, Kind: "user"}
	if u, ok := s.dir.User(se.Owner); ok {
		p = api.Principal{Name: u.Name, Kind: "user", Groups: u.Groups, Attributes: u.Attributes}
	}
	return caller{name: se.Owner, kind: "user", principal: p}
}

// checkForwardClosed refuses a malformed report.
func checkForwardClosed(r *api.ForwardClosedRequest) error {
	const verb = api.VerbForwardClosed
	if !fwdReasons[r.Reason] {
		return badRequest("%s: reason %.32q is not one of client_close, server_close, refused, policy, session_end, error", verb, r.Reason)
	}
	for _, t := range []struct {
		field, v string
		limit    int
	}{{"peer", r.Peer, maxPeer}, {"address", r.Address, maxAddress}, {"detail", r.Detail, maxFwdDetail}} {
		if err := checkText(verb, t.field, t.v, t.limit); err != nil {
			return err
		}
	}
	switch {
	case r.BytesIn > maxFwdBytes || r.BytesOut > maxFwdBytes:
		return badRequest("%s: %d bytes in and %d out; more than %d either way is not a count", verb, r.BytesIn, r.BytesOut, uint64(maxFwdBytes))
	case r.ClosedAt.IsZero():
		return badRequest("%s: closed_at is required", verb)
	case !r.OpenedAt.IsZero() && r.ClosedAt.Before(r.OpenedAt):
		return badRequest("%s: closed_at %s is before opened_at %s", verb, r.ClosedAt.Format(time.RFC3339Nano), r.OpenedAt.Format(time.RFC3339Nano))
	case !r.OpenedAt.IsZero() && r.ClosedAt.Sub(r.OpenedAt) > maxFwdDuration:
		return badRequest("%s: a connection of %s is longer than any session", verb, r.ClosedAt.Sub(r.OpenedAt))
	case r.OpenedAt.IsZero() && (r.BytesIn > 0 || r.BytesOut > 0):
		return badRequest("%s: a connection that never opened carried %d bytes in and %d out", verb, r.BytesIn, r.BytesOut)
	}
	return nil
}

// forwardClosed records a connection's end: an audit record and a Forward event, each
// stored once however often the agent reports it (the agent retries until answered).
func (s *Service) forwardClosed(ctx context.Context, c caller, r *api.ForwardClosedRequest) (any, error) {
	const verb = api.VerbForwardClosed
	if err := checkForwardClosed(r); err != nil {
		return nil, err
	}
	// The session may have ended since: its connections are reported after.
	se, f, err := s.agentPortSession(ctx, c, verb, r.SessionID, r.Dest)
	if err != nil {
		return nil, err
	}
	if r.Address != "" {
		if _, err := dialedAddress(verb, f, r.Address); err != nil {
			return nil, err
		}
	}
	key := events.ForwardID(se.ID, r.ConnID)
	if s.fwdSeen.has(key) {
		return api.Empty{}, nil
	}
	fc := events.ForwardConn{
		SessionID: se.ID, Owner: se.Owner, Target: se.Target, Document: se.Document, ConnID: r.ConnID,
		Dest: r.Dest, Host: f.Host, Port: f.Port, UnixSocket: f.UnixSocket, Address: r.Address, Peer: r.Peer,
		BytesIn: r.BytesIn, BytesOut: r.BytesOut, OpenedAt: r.OpenedAt.UTC(), ClosedAt: r.ClosedAt.UTC(),
		Reason: r.Reason, Detail: r.Detail,
	}
	if r.OpenedAt.IsZero() {
		fc.OpenedAt = time.Time{}
	} else {
		fc.Duration = api.Duration(r.ClosedAt.Sub(r.OpenedAt))
	}
	if err := s.auditForward(ctx, c, key, fc); err != nil {
		return nil, err
	}
	// Published even when the audit record was a duplicate: the report may be the retry
	// of one whose event failed. The event's id is the same key, and the events stream
	// stores it once.
	if err := s.cfg.Emitter.Emit(ctx, events.Forward, events.Data{Session: events.FromRecord(se), Actor: c.name, Forward: &fc}); err != nil {
		return nil, fmt.Errorf("publish forward event: %w", err)
	}
	s.fwdSeen.add(key, s.now())
	s.log.Debug("forwarded connection ended", logkey.SessionID, se.ID, logkey.Reason, r.Reason)
	return api.Empty{}, nil
}

// forwardAudit is the input of a ForwardClosed audit record.
type forwardAudit struct {
	Agent   string             `json:"agent"`
	Forward events.ForwardConn `json:"forward"`
}

// auditForward writes a connection's audit record, deduplicated by the stream on key.
func (s *Service) auditForward(ctx context.Context, c caller, key string, fc events.ForwardConn) error {
	input, err := json.Marshal(forwardAudit{Agent: c.name, Forward: fc})
	if err != nil {
		return err
	}
	rec := api.AuditRecord{
		Time: s.now().UTC(), Server: s.cfg.ServerName, Principal: fc.Owner, Action: ActionForwardClosed,
		Input: input, Allow: fc.Reason != api.FwdPolicy, Revision: s.policyRevision(),
	}
	if fc.Reason == api.FwdPolicy {
		rec.Reasons = []string{fc.Detail}
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := s.js.Publish(ctx, subjects.Audit(ActionForwardClosed), body, jetstream.WithMsgID(key)); err != nil {
		return fmt.Errorf("record forwarded connection %s: %w", key, err)
	}
	return nil
}

// seenSet remembers the keys of recent reports, so that a retried one is answered without
// being stored again after the stream's duplicate window has passed. It forgets keys
// older than fwdSeenFor, and holds at most fwdSeenMax.
type seenSet struct {
	mu   sync.Mutex
	keys map[string]time.Time
}

const (
	fwdSeenFor = time.Hour
	fwdSeenMax = 100_000
)

func (m *seenSet) has(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.keys[key]
	return ok
}

func (m *seenSet) add(key string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]time.Time{}
	}
	if len(m.keys) >= fwdSeenMax {
		for k, t := range m.keys {
			if now.Sub(t) > fwdSeenFor || len(m.keys) >= fwdSeenMax {
				delete(m.keys, k)
			}
		}
	}
	m.keys[key] = now
}
