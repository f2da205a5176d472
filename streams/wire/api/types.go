package api

import "time"

// MaxRequest bounds the size of any API request body the control plane accepts.
const MaxRequest = 64 << 10

// Verbs of the user API, published on subjects.API(user, verb).
const (
	VerbStartSession       = "StartSession"
	VerbTerminateSession   = "TerminateSession"
	VerbDescribeSessions   = "DescribeSessions"
	VerbGetSession         = "GetSession"
	VerbDescribeInstances  = "DescribeInstanceInformation"
	VerbReadTranscript     = "ReadTranscript"
	VerbWhoAmI             = "WhoAmI"
	VerbCreateActivation   = "CreateActivation"
	VerbListActivations    = "ListActivations"
	VerbDeleteActivation   = "DeleteActivation"
	VerbAddUser            = "AddUser"
	VerbListUsers          = "ListUsers"
	VerbRemoveUser         = "RemoveUser"
	VerbDeregisterInstance = "DeregisterInstance"
)

// Verbs of the agent API, published on subjects.AgentAPI(agent, verb).
const (
	VerbRegister     = "Register"
	VerbHeartbeat    = "Heartbeat"
	VerbSessionEnded = "SessionEnded"
)

// Session states.
const (
	StateConnecting  = "Connecting"
	StateConnected   = "Connected"
	StateTerminating = "Terminating"
	StateTerminated  = "Terminated"
	StateFailed      = "Failed"
)

// Reasons a session ended, as carried in Session.Reason and terminated events.
const (
	ReasonExit            = "exit"
	ReasonTerminated      = "terminated"
	ReasonAgentLost       = "agent_lost"
	ReasonAgentRestarted  = "agent_restarted"
	ReasonBrokerShutdown  = "broker_shutdown"
	ReasonAgentShutdown   = "agent_shutdown"
	ReasonStartFailed     = "start_failed"
	ReasonRecordingFailed = "recording_failed"
	ReasonAttachTimeout   = "attach_timeout"
	// ReasonTranscriptBudget: the instance holds more of the transcript stream than its
	// budget, and its sessions end rather than fill the stream for everyone.
	ReasonTranscriptBudget = "transcript_budget"
	// ReasonClientGone: a session without a terminal whose client sent nothing for the
	// resume window (its keepalives included) ends; a terminal session waits for its idle
	// timeout instead.
	ReasonClientGone = "client_gone"
)

// Ping statuses of an instance.
const (
	PingOnline         = "Online"
	PingConnectionLost = "ConnectionLost"
)

// Principal is who a connection authenticated as.
type Principal struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"` // "user", "agent" or "control-plane"
	Groups     []string          `json:"groups,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// AdminGroup is the group whose members the default policy lets do everything.
const AdminGroup = "admins"

// IsAdmin reports whether p belongs to AdminGroup.
func (p Principal) IsAdmin() bool {
	for _, g := range p.Groups {
		if g == AdminGroup {
			return true
		}
	}
	return false
}

// Instance is a managed node as DescribeInstanceInformation lists it.
type Instance struct {
	ID            string            `json:"instance_id"`
	Name          string            `json:"name,omitempty"`
	Hostname      string            `json:"hostname,omitempty"`
	OS            string            `json:"os,omitempty"`
	Arch          string            `json:"arch,omitempty"`
	AgentVersion  string            `json:"agent_version,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	IPAddresses   []string          `json:"ip_addresses,omitempty"`
	LastHeartbeat time.Time         `json:"last_heartbeat"`
	PingStatus    string            `json:"ping_status"`
	RegisteredAt  time.Time         `json:"registered_at"`
	ActivationID  string            `json:"activation_id,omitempty"`
	NKey          string            `json:"nkey,omitempty"`
}

// Session is one session's record, as kept in the sessions KV bucket.
type Session struct {
	ID           string    `json:"session_id"`
	Owner        string    `json:"owner"`
	Target       string    `json:"target"`
	Document     string    `json:"document_name"`
	Command      []string  `json:"command,omitempty"`
	Interactive  bool      `json:"interactive"`
	State        string    `json:"state"`
	Reason       string    `json:"reason,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	ExitCode     *int      `json:"exit_code,omitempty"`
	StartedAt    time.Time `json:"start_date"`
	ConnectedAt  time.Time `json:"connected_date,omitzero"`
	EndedAt      time.Time `json:"end_date,omitzero"`
	TerminatedBy string    `json:"terminated_by,omitempty"`
	Cols         uint16    `json:"cols,omitempty"`
	Rows         uint16    `json:"rows,omitempty"`
	// OutFrames is the number of frames the agent published on the output subject, known
	// once the session ended; a complete transcript holds exactly this many.
	OutFrames uint64 `json:"out_frames,omitempty"`
	OutBytes  uint64 `json:"out_bytes,omitempty"`
	// DocumentVersion is the version of Document the session runs.
	DocumentVersion int `json:"document_version,omitempty"`
	// SessionType is the document's sessionType.
	SessionType string `json:"session_type,omitempty"`
	// RunAs is the local user the process runs as; empty for the agent's own user.
	RunAs string `json:"run_as,omitempty"`
	// IdleTimeout and MaxDuration are the limits in force (preferences tightened by policy
	// obligations); zero means none.
	IdleTimeout Duration `json:"idle_timeout,omitempty"`
	MaxDuration Duration `json:"max_duration,omitempty"`
	// Recording says how the session's recording is shipped, from the preferences in
	// force when it started.
	Recording *SessionRecording `json:"recording,omitempty"`
	// Forwards are a port forwarding session's destinations.
	Forwards []Forward `json:"forwards,omitempty"`
}

// SessionRecording is what the preferences said about a session's recording.
type SessionRecording struct {
	KeyPrefix          string `json:"s3_key_prefix,omitempty"`
	EncryptionRequired bool   `json:"s3_encryption_enabled,omitempty"`
	Bucket             string `json:"s3_bucket_name,omitempty"`
	RecordInput        bool   `json:"record_input,omitempty"`
	// Streaming uploads the recording in parts while the session runs.
	Streaming bool `json:"streaming_enabled,omitempty"`
	// Retention is how long the transcript stream keeps the session's frames after it
	// ended (the preference transcriptRetentionDays); zero: as long as the stream keeps
	// anything. The broker removes them; Purged says it has.
	Retention Duration `json:"retention,omitempty"`
	Purged    bool     `json:"purged,omitempty"`
}

// Ended reports whether the session is over.
func (s Session) Ended() bool { return s.State == StateTerminated || s.State == StateFailed }

// EndStatus is how an ended session ended, as its End frame tells the client: the exit
// code (-1 without one) and the reason, with the detail after a colon.
func (s Session) EndStatus() (code int32, why string) {
	code = -1
	if s.ExitCode != nil {
		code = int32(*s.ExitCode)
	}
	why = s.Reason
	if s.Detail != "" {
		why += ": " + s.Detail
	}
	return code, why
}

// Subjects are a session's data subjects, handed to the client and the agent.
type Subjects struct {
	In  string `json:"in"`
	Out string `json:"out"`
	Ctl string `json:"ctl"`
	// Rin is the subject the agent records the client's input on when
	// AgentStart.RecordInput is set. Users may neither publish nor subscribe to it.
	Rin string `json:"rin,omitempty"`
}

// StartSessionRequest asks for a session on Target. With Command empty and Interactive
// true it is a shell; with Command set it runs that command (argv, not a shell string).
// Parameters are the document's parameters in SSM's form: {"name": ["value"]}.
type StartSessionRequest struct {
	Target      string              `json:"target"`
	Document    string              `json:"document_name,omitempty"`
	Parameters  map[string][]string `json:"parameters,omitempty"`
	Command     []string            `json:"command,omitempty"`
	Interactive bool                `json:"interactive"`
	Cols        uint16              `json:"cols,omitempty"`
	Rows        uint16              `json:"rows,omitempty"`
	Term        string              `json:"term,omitempty"`
	Reason      string              `json:"reason,omitempty"`
	// Forwards, for a port forwarding session without a Port document (`tether forward`),
	// are its destinations (at most MaxForwards). A Port document names its one
	// destination itself, and a request naming one takes no Forwards.
	Forwards []Forward `json:"forwards,omitempty"`
}

// StartSessionResponse tells the client where the session's frames flow.
type StartSessionResponse struct {
	Session  Session  `json:"session"`
	Subjects Subjects `json:"subjects"`
	Window   int      `json:"window"`
	// InputSeq is the number the client's input frames count up from (the first is
	// InputSeq+1). The agent takes input frames only in increasing order, so a client
	// that resumes a session starts above every frame an earlier client sent.
	InputSeq uint64 `json:"input_seq,omitempty"`
	// ResumeWindow is how long the session waits for a client that lost its connection:
	// the client reconnects and resumes by itself for that long.
	ResumeWindow Duration `json:"resume_window,omitempty"`
	// OutputSeq, in a resume, is the number of the last output frame the record held when
	// the client asked: the client shows output after it (or after its own last frame).
	OutputSeq uint64 `json:"output_seq,omitempty"`
}

type TerminateSessionRequest struct {
	SessionID string `json:"session_id"`
}

type TerminateSessionResponse struct {
	SessionID string `json:"session_id"`
}

type GetSessionRequest struct {
	SessionID string `json:"session_id"`
}

type GetSessionResponse struct {
	Session Session `json:"session"`
}

// DescribeSessionsRequest lists sessions in State "Active" or "History".
type DescribeSessionsRequest struct {
	State      string `json:"state"`
	Target     string `json:"target,omitempty"`
	Owner      string `json:"owner,omitempty"`
	MaxResults int    `json:"max_results,omitempty"`
	NextToken  string `json:"next_token,omitempty"`
}

type DescribeSessionsResponse struct {
	Sessions []Session `json:"sessions"`
	// NextToken, when set, asks for the next page: pass it back as the request's.
	NextToken string `json:"next_token,omitempty"`
}

type DescribeInstancesRequest struct {
	InstanceIDs []string `json:"instance_ids,omitempty"`
	MaxResults  int      `json:"max_results,omitempty"`
	NextToken   string   `json:"next_token,omitempty"`
}

type DescribeInstancesResponse struct {
	Instances []Instance `json:"instances"`
	NextToken string     `json:"next_token,omitempty"`
}

// ReadTranscriptRequest pages through a session's recorded output frames. After is the
// last frame sequence number the caller already has (0 for the start).
type ReadTranscriptRequest struct {
	SessionID string `json:"session_id"`
	After     uint64 `json:"after"`
	Max       int    `json:"max,omitempty"`
	// Cursor, when set, is the Cursor of the previous page: reading resumes right after
	// it instead of scanning from the start.
	Cursor uint64 `json:"cursor,omitempty"`
}

// TranscriptFrame is one recorded frame with the time the stream stored it.
type TranscriptFrame struct {
	Time  time.Time `json:"time"`
	Frame []byte    `json:"frame"`
}

type ReadTranscriptResponse struct {
	Frames []TranscriptFrame `json:"frames"`
	// Complete is true when the caller has reached the session's last frame.
	Complete bool `json:"complete"`
	// Cursor is where the next page starts; pass it back with the next request.
	Cursor uint64 `json:"cursor,omitempty"`
}

type WhoAmIResponse struct {
	Principal Principal `json:"principal"`
}

// CreateActivationRequest creates an activation (like an SSM hybrid activation).
type CreateActivationRequest struct {
	Description         string            `json:"description,omitempty"`
	DefaultInstanceName string            `json:"default_instance_name,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	Limit               int               `json:"registration_limit"`
	Expires             string            `json:"expires"` // a Go duration, e.g. "24h"
}

// Activation is an activation's record. The code itself is only ever returned once.
type Activation struct {
	ID                  string            `json:"activation_id"`
	Code                string            `json:"activation_code,omitempty"`
	Description         string            `json:"description,omitempty"`
	DefaultInstanceName string            `json:"default_instance_name,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	Limit               int               `json:"registration_limit"`
	Used                int               `json:"registrations_count"`
	CreatedAt           time.Time         `json:"created_date"`
	ExpiresAt           time.Time         `json:"expiration_date"`
	CreatedBy           string            `json:"created_by,omitempty"`
}

type ListActivationsResponse struct {
	Activations []Activation `json:"activations"`
}

type DeleteActivationRequest struct {
	ID string `json:"activation_id"`
}

type DeregisterInstanceRequest struct {
	ID string `json:"instance_id"`
}

// User is an end user's record.
type User struct {
	Name       string            `json:"name"`
	NKey       string            `json:"nkey"`
	Groups     []string          `json:"groups,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	CreatedAt  time.Time         `json:"created_date"`
}

type AddUserRequest struct {
	User User `json:"user"`
}

type ListUsersResponse struct {
	Users []User `json:"users"`
}

type RemoveUserRequest struct {
	Name string `json:"name"`
}

// Empty is the response of verbs that return nothing.
type Empty struct{}
