package api

import "time"

// Verbs of the recordings API, published on subjects.API(user, verb).
const (
	VerbListRecordings = "ListRecordings"
	VerbGetRecording   = "GetRecording"
	VerbShipStatus     = "ShipStatus"
)

// Recording files, by kind: the asciicast v2 recording, the plain-text log and the
// metadata, written in that order (the metadata last: its presence says the other two are
// complete).
const (
	RecordingCast = "cast"
	RecordingLog  = "log"
	RecordingMeta = "json"
)

// RecordingFile is one shipped file of a recording.
type RecordingFile struct {
	Key    string `json:"key"`    // object key (or path under the directory backend)
	Bytes  int64  `json:"bytes"`  // stored size (after encryption, if any)
	SHA256 string `json:"sha256"` // of the stored bytes, hex
}

// Recording is a session's shipped recording: the content of its SESSION_ID.json.
type Recording struct {
	SessionID       string    `json:"session_id"`
	Owner           string    `json:"owner"`
	Target          string    `json:"target"`
	Document        string    `json:"document_name,omitempty"`
	DocumentVersion int       `json:"document_version,omitempty"`
	SessionType     string    `json:"session_type,omitempty"`
	RunAs           string    `json:"run_as,omitempty"`
	StartedAt       time.Time `json:"start_date"`
	EndedAt         time.Time `json:"end_date"`
	State           string    `json:"state"`
	Reason          string    `json:"reason,omitempty"`
	ExitCode        *int      `json:"exit_code,omitempty"`
	Cols            uint16    `json:"cols,omitempty"`
	Rows            uint16    `json:"rows,omitempty"`
	// Frames is the number of transcript frames rendered; OutFrames as the session record
	// has it (the two agree for a complete recording).
	Frames    uint64 `json:"frames"`
	OutFrames uint64 `json:"out_frames"`
	// OutputBytes and OutputSHA256 are of the raw output bytes (stdout and stderr in order),
	// exactly as the client received them, before any rendering.
	OutputBytes  int64  `json:"output_bytes"`
	OutputSHA256 string `json:"output_sha256"`
	// InputBytes counts the recorded input, when the preference recordInput is on.
	InputBytes int64 `json:"input_bytes,omitempty"`
	// Files are the cast and log files, by kind (RecordingCast, RecordingLog).
	Files map[string]RecordingFile `json:"files"`
	// Encryption is "" (none but the storage's own), "sse-s3", "sse-c", or "age" (client-side
	// envelope encryption to the recipients listed).
	Encryption string    `json:"encryption,omitempty"`
	Recipients []string  `json:"recipients,omitempty"`
	ShippedAt  time.Time `json:"shipped_at"`
	Shipper    string    `json:"shipper"`
}

// ListRecordingsRequest lists shipped recordings, newest first.
type ListRecordingsRequest struct {
	Target     string    `json:"target,omitempty"`
	User       string    `json:"user,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	MaxResults int       `json:"max_results,omitempty"`
	NextToken  string    `json:"next_token,omitempty"`
}

type ListRecordingsResponse struct {
	Recordings []Recording `json:"recordings"`
	NextToken  string      `json:"next_token,omitempty"`
}

// GetRecordingRequest reads a shipped recording's file of the given kind (default the
// cast), a page at a time: Offset bytes in, at most MaxRecordingPage bytes.
type GetRecordingRequest struct {
	SessionID string `json:"session_id"`
	Kind      string `json:"kind,omitempty"`
	Offset    int64  `json:"offset,omitempty"`
}

// MaxRecordingPage bounds the bytes of one GetRecording answer.
const MaxRecordingPage = 512 << 10

type GetRecordingResponse struct {
	Recording Recording `json:"recording"`
	Data      []byte    `json:"data"`
	// EOF is true when Data reaches the end of the file.
	EOF bool `json:"eof"`
}

// ShipperStatus is one shipper's report.
type ShipperStatus struct {
	Name        string    `json:"name"`
	Backend     string    `json:"backend"` // "dir:/path" or "s3://endpoint/bucket"
	Shipped     uint64    `json:"shipped"`
	Failed      uint64    `json:"failed"`
	LastShipped string    `json:"last_shipped,omitempty"` // session id
	LastAt      time.Time `json:"last_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	ErrorAt     time.Time `json:"error_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ShipStatusResponse says how far shipping has got: sessions waiting in the stream, being
// shipped, and what each shipper last did.
type ShipStatusResponse struct {
	Pending     uint64          `json:"pending"`     // ended sessions not yet delivered to a shipper
	AckPending  uint64          `json:"ack_pending"` // delivered, not yet shipped
	Redelivered uint64          `json:"redelivered"` // delivered more than once (failures, restarts)
	OldestWait  Duration        `json:"oldest_wait"` // how long the oldest unshipped session has waited
	Shippers    []ShipperStatus `json:"shippers"`
	// Transcripts is how full the transcript stream is, which shipping empties.
	Transcripts *TranscriptCapacity `json:"transcripts,omitempty"`
}

// States of the transcript stream's capacity.
const (
	CapacityOK      = "ok"
	CapacityWarning = "warning" // past CapacityHighWater percent full
	CapacityFull    = "full"    // less than the reserve free: no new session starts
)

// CapacityHighWater is the percentage of the transcript stream's limit past which its
// capacity is reported as a warning.
const CapacityHighWater = 80

// TranscriptCapacity is how much of the transcript stream is used, as a broker last read
// it.
type TranscriptCapacity struct {
	Bytes    uint64 `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"` // -1: no limit
	Messages uint64 `json:"messages"`
	// MaxMessages is -1 when the stream has no limit on its messages.
	MaxMessages int64 `json:"max_messages"`
	// Percent is of the limit nearest to being reached.
	Percent float64 `json:"percent"`
	// ReserveBytes is the free space a new session needs to start.
	ReserveBytes int64  `json:"reserve_bytes"`
	State        string `json:"state"` // CapacityOK, CapacityWarning or CapacityFull
	// RefusedStarts counts the sessions this broker refused to start, since it started,
	// because the stream could not take them.
	RefusedStarts uint64 `json:"refused_starts"`
	// ShippedPurged counts the shipped sessions this broker removed from the stream.
	ShippedPurged uint64    `json:"shipped_purged"`
	CheckedAt     time.Time `json:"checked_at"`
}
