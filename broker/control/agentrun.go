package control

import (
	"fmt"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// One agent process per instance. Each tether-agent picks a run id when it starts and
// sends it with every Register and Heartbeat. The control plane remembers, per
// instance, the run that registered and the connection it registered on. A Register
// from another run is refused while that one is alive (its connection open and its
// heartbeats on time): a second agent with the same key (a copied state directory, a
// cloned disk) must not replace the first and end its sessions. Once the registered
// run is gone (its connection closed, or silent for AgentLostAfter), the next run
// replaces it and reconcile ends the sessions it does not run, as after any restart.
//
// The instance comes from the connection, never from the body; the run id is only a
// token the node chooses, compared with its own earlier one, so a node can refuse or
// replace nothing but itself. The memory is the broker's alone: after a broker restart
// the first agent of an instance to register is the registered one.

// agentRun is the agent process registered for an instance.
type agentRun struct {
	id   string    // the run id it picked
	conn uint64    // the server's id of the connection it registered on; 0 unknown
	at   time.Time // when it registered
	host string    // the hostname it reported
	ip   string    // where its connection comes from
}

// claimRun makes run the registered agent process of c's instance, unless another run
// registered before it is still alive: then the refusal says which.
func (s *Service) claimRun(c caller, run, hostname string) error {
	now := s.now()
	for {
		s.mu.Lock()
		cur, ok := s.runs[c.name]
		if !ok || cur.id == run || cur.conn == c.conn && c.conn != 0 {
			// Nobody registered, the same process reconnected, or the registered
			// process's own connection names another run: that process can only
			// replace itself.
			s.runs[c.name] = agentRun{id: run, conn: c.conn, at: now, host: hostname, ip: c.sourceIP}
			s.mu.Unlock()
			return nil
		}
		last := s.lastSeen[c.name]
		s.mu.Unlock()
		// Asking the server takes its locks: not under ours.
		if s.runAlive(c.name, cur, last, now) {
			return &api.Error{Code: api.CodeConflict, Message: conflictMessage(c.name, cur, now)}
		}
		s.mu.Lock()
		if s.runs[c.name] == cur {
			s.runs[c.name] = agentRun{id: run, conn: c.conn, at: now, host: hostname, ip: c.sourceIP}
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock() // another Register came in between: look again
	}
}

// runAlive reports whether the registered run r of instance, last heard from at last,
// may still be running: its heartbeats are on time and, where the server can tell, its
// connection is open. A process that died has its connection closed by its kernel at
// once; one on a host that vanished (power lost) leaves a connection the server drops
// only after minutes of unanswered pings, but stops heartbeating: after AgentLostAfter
// (when its sessions end as agent lost anyway) it is gone for the control plane too.
func (s *Service) runAlive(instance string, r agentRun, last, now time.Time) bool {
	if now.Sub(last) > s.cfg.AgentLostAfter {
		return false
	}
	if s.cfg.AgentConns == nil || r.conn == 0 {
		return true
	}
	return s.cfg.AgentConns.AgentConnected(instance, r.conn)
}

// checkRun refuses a heartbeat from a run that is not the registered one; it follows the
// registered run to a new connection (a reconnect heartbeating before it registers
// again). Before any Register (this broker just started) any run may heartbeat.
func (s *Service) checkRun(c caller, run string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.runs[c.name]
	if !ok {
		return nil
	}
	if cur.id != run {
		return &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf(
			"instance %s is registered to another agent process (run %s…, from %s): this one (run %s…) is not registered and must stop",
			c.name, cur.id[:8], runFrom(cur), run[:8])}
	}
	if c.conn != 0 && cur.conn != c.conn {
		cur.conn = c.conn
		s.runs[c.name] = cur
	}
	return nil
}

// conflictMessage tells a second agent process why it is refused and what to do. It
// names the registered run by its first digits only: enough to tell processes apart in
// logs, not the token itself.
func conflictMessage(instance string, r agentRun, now time.Time) string {
	return fmt.Sprintf("instance %s is already connected (agent run %s…, registered %s ago, from %s): "+
		"a second agent with this identity is refused; stop the other one or enroll this one as its own instance",
		instance, r.id[:8], now.Sub(r.at).Round(time.Second), runFrom(r))
}

func runFrom(r agentRun) string {
	switch {
	case r.host != "" && r.ip != "":
		return fmt.Sprintf("%.64q at %s", r.host, r.ip)
	case r.ip != "":
		return r.ip
	case r.host != "":
		return fmt.Sprintf("%.64q", r.host)
	}
	return "an unknown host"
}
