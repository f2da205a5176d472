package logkey

// Attribute keys.
const (
	SessionID  = "session_id"
	InstanceID = "instance_id"
	User       = "user"
	Reason     = "reason"
	Err        = "err"
	Frame      = "frame"
	Signal     = "signal"
	Subject    = "subject"
	Command    = "command"
	ExitCode   = "exit_code"
	Broker     = "broker"
	Attempt    = "attempt"
	Count      = "count"
	Frames     = "frames"
	Bytes      = "bytes"
	Sessions   = "sessions"
	Heartbeat  = "heartbeat"
	RunAs      = "run_as"
)
