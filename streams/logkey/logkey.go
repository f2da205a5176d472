package logkey

// Who: the principals and connections a line is about.
const (
	User         = "user"        // a user's name
	InstanceID   = "instance_id" // a managed node (its agent)
	ActivationID = "activation_id"
	NKey         = "nkey"    // a public key
	Account      = "account" // a NATS account
	Principal    = "principal"
	Caller       = "caller" // whoever sent a control-plane request
	CallerKind   = "caller_kind"
	Remote       = "remote" // a peer's network address
	Host         = "host"
	CID          = "cid"    // a NATS client connection id
	RunID        = "run_id" // one tether-agent process (it picks the id at start)
	Shipper      = "shipper"
	PushedBy     = "pushed_by"
)

// What: sessions, requests and their outcome.
const (
	SessionID = "session_id"
	Target    = "target"
	Document  = "document"
	Version   = "version"
	Command   = "command"
	RunAs     = "run_as"
	State     = "state"
	Reason    = "reason"
	ExitCode  = "exit_code"
	Signal    = "signal"
	PID       = "pid" // a local process id
	Verb      = "verb"
	Code      = "code"
	Err       = "err"
	Duration  = "duration"
	Revision  = "revision" // a policy bundle's
	Files     = "files"
)

// Transport: subjects, frames and counts.
const (
	Subject   = "subject"
	Frame     = "frame"
	Frames    = "frames"
	Seq       = "seq"
	Bytes     = "bytes"
	Messages  = "messages"
	Count     = "count"
	Sessions  = "sessions"
	Heartbeat = "heartbeat"
	Broker    = "broker"
	URL       = "url"
	From      = "from"
	To        = "to"
)

// Port forwarding: one forwarded connection.
const (
	Conn     = "conn"      // a connection's id in its session
	Dest     = "dest"      // the index of its destination in the session's forwards
	Address  = "address"   // what the node dialled: ip:port or a unix socket's path
	BytesIn  = "bytes_in"  // client → destination
	BytesOut = "bytes_out" // destination → client
)

// Retries, limits and the log's own bookkeeping.
const (
	Attempt        = "attempt"
	RetryIn        = "retry_in"
	Delay          = "delay"
	RecentFailures = "recent_failures"
	Budget         = "budget"
	Retention      = "retention"
	Grace          = "grace"     // how long shipped frames stay in the transcript stream
	MaxBytes       = "max_bytes" // a stream's limit
	Reserve        = "reserve"   // free space a new session needs
	Percent        = "percent"
	LogsSuppressed = "logs_suppressed"
)

// Where: the broker's parts and its storage.
const (
	Component  = "component"
	ServerName = "server_name"
	StateDir   = "state_dir"
	File       = "file" // a file's name or path
	Stream     = "stream"
	Consumer   = "consumer"
	Key        = "key"
	Bucket     = "bucket"
	Backend    = "backend"
	Recordings = "recordings"
)
