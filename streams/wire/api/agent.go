package api

import (
	"errors"
	"time"
)

// EnrollRequest is what an agent holding an activation sends once, on
// subjects.Enroll(activationID, itsNKey).
type EnrollRequest struct {
	Hostname     string `json:"hostname"`
	OS           string `json:"os"`
	Arch         string `json:"arch"`
	AgentVersion string `json:"agent_version"`
}

type EnrollResponse struct {
	InstanceID string `json:"instance_id"`
}

// RegisterRequest is sent by an agent each time it (re)connects. Sessions lists the
// sessions still running on the agent.
//
// RunID names the agent process: RunIDLen hex digits it picks at random when it starts
// and sends with every Register and Heartbeat. The broker admits one process per
// instance: a Register with another run id, while the registered process is still
// connected, is refused with CodeConflict (a second agent with the same key); once that
// process's connection is gone, the new run replaces it. A reconnect of the same process
// (the same run id) is always accepted.
type RegisterRequest struct {
	RunID        string   `json:"run_id"`
	Hostname     string   `json:"hostname"`
	OS           string   `json:"os"`
	Arch         string   `json:"arch"`
	AgentVersion string   `json:"agent_version"`
	IPAddresses  []string `json:"ip_addresses,omitempty"`
	Sessions     []string `json:"sessions,omitempty"`
}

// RegisterResponse tells the agent how often to heartbeat and which of its sessions the
// control plane already considers over (the agent must end them).
type RegisterResponse struct {
	InstanceID        string        `json:"instance_id"`
	HeartbeatInterval time.Duration `json:"heartbeat_interval"`
	EndSessions       []string      `json:"end_sessions,omitempty"`
}

// HeartbeatRequest is published (request/reply) by an agent every HeartbeatInterval.
// A heartbeat from a run other than the registered one is refused with CodeConflict:
// that agent must stop.
type HeartbeatRequest struct {
	RunID    string   `json:"run_id"`
	Sessions []string `json:"sessions,omitempty"`
}

// RunIDLen is the length of a run id: 16 random bytes, in lowercase hex.
const RunIDLen = 32

// ValidRunID refuses what is not a run id: RunIDLen lowercase hex digits.
func ValidRunID(s string) error {
	if len(s) != RunIDLen {
		return errors.New("run_id must be 32 lowercase hex digits (the agent picks it at start; upgrade the agent if it sends none)")
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return errors.New("run_id must be 32 lowercase hex digits")
		}
	}
	return nil
}

type HeartbeatResponse struct {
	EndSessions []string `json:"end_sessions,omitempty"`
}

// SessionEndedRequest is sent by the agent when a session's process has ended and every
// output frame has been acknowledged by the transcript stream.
type SessionEndedRequest struct {
	SessionID string `json:"session_id"`
	ExitCode  int    `json:"exit_code"`
	Reason    string `json:"reason"`
	Detail    string `json:"detail,omitempty"`
	OutFrames uint64 `json:"out_frames"`
	OutBytes  uint64 `json:"out_bytes"`
	// EndedAt is when the process ended by the agent's clock, which the report may
	// follow by minutes (the broker was away). The broker keeps it as the end_date
	// within the session's life as the broker saw it (after its start, not after now).
	EndedAt time.Time `json:"ended_at,omitzero"`
}

// AgentControl is a control-plane request to an agent on subjects.AgentControl(agent).
// Exactly one of Start and Terminate is set.
type AgentControl struct {
	Start     *AgentStart     `json:"start,omitempty"`
	Terminate *AgentTerminate `json:"terminate,omitempty"`
}

// AgentStart asks the agent to start a session's process and bind it to Subjects.
type AgentStart struct {
	SessionID   string   `json:"session_id"`
	Owner       string   `json:"owner"`
	Subjects    Subjects `json:"subjects"`
	Interactive bool     `json:"interactive"`
	Command     []string `json:"command,omitempty"`
	Cols        uint16   `json:"cols,omitempty"`
	Rows        uint16   `json:"rows,omitempty"`
	Term        string   `json:"term,omitempty"`
	Window      int      `json:"window"`
	// RunAs, when set, is the local user the process runs as (its uid, gid, groups, home
	// and shell); the agent refuses the session if the user does not exist.
	RunAs string `json:"run_as,omitempty"`
	// IdleTimeout ends the session with ReasonIdleTimeout after that long without input
	// from the client (and, for a session without a terminal, without output either).
	IdleTimeout Duration `json:"idle_timeout,omitempty"`
	// MaxDuration ends the session with ReasonMaxDuration that long after it started.
	MaxDuration Duration `json:"max_duration,omitempty"`
	// ShellProfile is typed into a shell session's terminal before the client's input, as
	// SSM's shellProfile.linux is.
	ShellProfile string `json:"shell_profile,omitempty"`
	// RecordInput asks the agent to record the client's input too (the preference
	// recordInput): every Stdin frame's payload, numbered in its own sequence, on
	// Subjects.Rin through the transcript stream. How long the stream keeps a session's
	// frames is the broker's decision, never the agent's: frames carry no TTL.
	RecordInput bool `json:"record_input,omitempty"`
	// ResumeWindow is how long the session outlives the loss of its client or the
	// broker: output waits under flow control that long to be recorded, and a session
	// without a terminal ends (ReasonClientGone) when its client has sent nothing for that
	// long. Zero: the agent's own default.
	ResumeWindow Duration `json:"resume_window,omitempty"`
	// Forwards, when set, make this a port forwarding session: no process runs, and the
	// client's connections go to these destinations (by index), each allowed by the
	// control plane (VerbForwardOpen) before the agent dials it.
	Forwards []Forward `json:"forwards,omitempty"`
}

// AgentTerminate asks the agent to end a session; Reason ends up in its Exit frame.
type AgentTerminate struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason"`
}

// AgentReply answers an AgentControl request.
type AgentReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}
