package control

// Log attribute keys, one place.
const (
	keySession  = "session_id"
	keyTarget   = "target"
	keyUser     = "user"
	keyAgent    = "instance_id"
	keyVerb     = "verb"
	keyReason   = "reason"
	keyDuration = "duration"
)
