package events

import (
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Session is a session as its events describe it: the public schema of an event's data,
// which subscribers and notification rules depend on. It is its own type, not the stored
// record (api.Session), so that a field the broker comes to store does not appear in
// everybody's events by accident: publishing one is a change made here, on purpose.
type Session struct {
	ID           string       `json:"session_id"`
	Owner        string       `json:"owner"`
	Target       string       `json:"target"`
	Document     string       `json:"document_name"`
	Command      []string     `json:"command,omitempty"`
	Interactive  bool         `json:"interactive"`
	State        string       `json:"state"`
	Reason       string       `json:"reason,omitempty"`
	Detail       string       `json:"detail,omitempty"`
	ExitCode     *int         `json:"exit_code,omitempty"`
	StartedAt    time.Time    `json:"start_date"`
	ConnectedAt  time.Time    `json:"connected_date,omitzero"`
	EndedAt      time.Time    `json:"end_date,omitzero"`
	TerminatedBy string       `json:"terminated_by,omitempty"`
	Cols         uint16       `json:"cols,omitempty"`
	Rows         uint16       `json:"rows,omitempty"`
	OutFrames    uint64       `json:"out_frames,omitempty"`
	OutBytes     uint64       `json:"out_bytes,omitempty"`
	DocVersion   int          `json:"document_version,omitempty"`
	SessionType  string       `json:"session_type,omitempty"`
	RunAs        string       `json:"run_as,omitempty"`
	IdleTimeout  api.Duration `json:"idle_timeout,omitempty"`
	MaxDuration  api.Duration `json:"max_duration,omitempty"`
	Recording    *Recording   `json:"recording,omitempty"`
	// Forwards are a port forwarding session's destinations.
	Forwards []api.Forward `json:"forwards,omitempty"`
}

// Recording is how a session's recording is shipped, as its events say it.
type Recording struct {
	KeyPrefix          string       `json:"s3_key_prefix,omitempty"`
	EncryptionRequired bool         `json:"s3_encryption_enabled,omitempty"`
	Bucket             string       `json:"s3_bucket_name,omitempty"`
	RecordInput        bool         `json:"record_input,omitempty"`
	Streaming          bool         `json:"streaming_enabled,omitempty"`
	Retention          api.Duration `json:"retention,omitempty"`
}

// FromRecord is the event's view of a stored session record.
func FromRecord(se api.Session) Session {
	out := Session{
		ID: se.ID, Owner: se.Owner, Target: se.Target, Document: se.Document,
		Command: se.Command, Interactive: se.Interactive, State: se.State,
		Reason: se.Reason, Detail: se.Detail, ExitCode: se.ExitCode,
		StartedAt: se.StartedAt, ConnectedAt: se.ConnectedAt, EndedAt: se.EndedAt,
		TerminatedBy: se.TerminatedBy, Cols: se.Cols, Rows: se.Rows,
		OutFrames: se.OutFrames, OutBytes: se.OutBytes,
		DocVersion: se.DocumentVersion, SessionType: se.SessionType, RunAs: se.RunAs,
		IdleTimeout: se.IdleTimeout, MaxDuration: se.MaxDuration, Forwards: se.Forwards,
	}
	if r := se.Recording; r != nil {
		out.Recording = &Recording{
			KeyPrefix: r.KeyPrefix, EncryptionRequired: r.EncryptionRequired, Bucket: r.Bucket,
			RecordInput: r.RecordInput, Streaming: r.Streaming, Retention: r.Retention,
		}
	}
	return out
}

// Record is the session record an event describes, for a consumer that needs one when the
// stored record is gone (the shipper). Fields events do not carry are left zero.
func (s Session) Record() api.Session {
	out := api.Session{
		ID: s.ID, Owner: s.Owner, Target: s.Target, Document: s.Document,
		Command: s.Command, Interactive: s.Interactive, State: s.State,
		Reason: s.Reason, Detail: s.Detail, ExitCode: s.ExitCode,
		StartedAt: s.StartedAt, ConnectedAt: s.ConnectedAt, EndedAt: s.EndedAt,
		TerminatedBy: s.TerminatedBy, Cols: s.Cols, Rows: s.Rows,
		OutFrames: s.OutFrames, OutBytes: s.OutBytes,
		DocumentVersion: s.DocVersion, SessionType: s.SessionType, RunAs: s.RunAs,
		IdleTimeout: s.IdleTimeout, MaxDuration: s.MaxDuration, Forwards: s.Forwards,
	}
	if r := s.Recording; r != nil {
		out.Recording = &api.SessionRecording{
			KeyPrefix: r.KeyPrefix, EncryptionRequired: r.EncryptionRequired, Bucket: r.Bucket,
			RecordInput: r.RecordInput, Streaming: r.Streaming, Retention: r.Retention,
		}
	}
	return out
}
