package api

import (
	"encoding/json"
	"time"
)

// Verbs of the documents, policy and preferences API, published on subjects.API(user, verb).
const (
	VerbCreateDocument    = "CreateDocument"
	VerbUpdateDocument    = "UpdateDocument"
	VerbGetDocument       = "GetDocument"
	VerbListDocuments     = "ListDocuments"
	VerbDeleteDocument    = "DeleteDocument"
	VerbResumeSession     = "ResumeSession"
	VerbPushPolicy        = "PushPolicy"
	VerbPolicyStatus      = "PolicyStatus"
	VerbEvaluatePolicy    = "EvaluatePolicy"
	VerbGetPreferences    = "GetPreferences"
	VerbUpdatePreferences = "UpdatePreferences"
)

// MaxPolicyRequest bounds a PushPolicy request (the bundle's files as JSON); every other
// verb is bound by MaxRequest.
const MaxPolicyRequest = 1 << 20

// Session document types, formats and session types, as SSM spells them.
const (
	DocumentTypeSession = "Session"
	FormatYAML          = "YAML"
	FormatJSON          = "JSON"

	SessionTypeStandardStream = "Standard_Stream"
	SessionTypeInteractive    = "InteractiveCommands"
	SessionTypeNonInteractive = "NonInteractiveCommands"
	SessionTypePort           = "Port"
)

// Built-in documents, Tether's names for SSM's own. The preferences document is the
// Standard_Stream document every shell session uses unless it names another.
const (
	DocPreferences              = "Tether-SessionManagerRunShell"
	DocInteractiveCommand       = "Tether-StartInteractiveCommand"
	DocNonInteractiveCommand    = "Tether-StartNonInteractiveCommand"
	DocPortForwarding           = "Tether-StartPortForwardingSession"
	DocPortForwardingRemoteHost = "Tether-StartPortForwardingSessionToRemoteHost"
	DocSSH                      = "Tether-StartSSHSession"
)

// Reasons a session ended because of a preference or an obligation.
const (
	ReasonIdleTimeout = "idle_timeout"
	ReasonMaxDuration = "max_duration"
)

// DocumentParameter describes one parameter of a document.
type DocumentParameter struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Description   string   `json:"description,omitempty"`
	Default       string   `json:"default_value,omitempty"`
	AllowedValues []string `json:"allowed_values,omitempty"`
}

// DocumentDescription is a stored document's metadata, as SSM's DescribeDocument returns it.
type DocumentDescription struct {
	Name           string              `json:"name"`
	DocumentType   string              `json:"document_type"`
	DocumentFormat string              `json:"document_format"`
	SessionType    string              `json:"session_type"`
	Description    string              `json:"description,omitempty"`
	Version        int                 `json:"document_version"`
	LatestVersion  int                 `json:"latest_version"`
	Builtin        bool                `json:"builtin,omitempty"`
	Owner          string              `json:"owner,omitempty"`
	CreatedAt      time.Time           `json:"created_date,omitzero"`
	UpdatedAt      time.Time           `json:"updated_date,omitzero"`
	Hash           string              `json:"hash"` // sha256 of Content, hex
	Parameters     []DocumentParameter `json:"parameters,omitempty"`
}

// CreateDocumentRequest stores a new document, version 1.
type CreateDocumentRequest struct {
	Name           string `json:"name"`
	Content        string `json:"content"`
	DocumentType   string `json:"document_type,omitempty"`   // "Session", the default
	DocumentFormat string `json:"document_format,omitempty"` // "YAML" (default) or "JSON"
}

// UpdateDocumentRequest stores a new version of a document. DocumentVersion, when set, is
// the version the update is based on ("$LATEST" or a number): the update is refused if the
// document has moved on since.
type UpdateDocumentRequest struct {
	Name            string `json:"name"`
	Content         string `json:"content"`
	DocumentFormat  string `json:"document_format,omitempty"`
	DocumentVersion string `json:"document_version,omitempty"`
}

type DocumentResponse struct {
	Document DocumentDescription `json:"document"`
}

// GetDocumentRequest reads a document: its latest version, or DocumentVersion.
type GetDocumentRequest struct {
	Name            string `json:"name"`
	DocumentVersion string `json:"document_version,omitempty"`
}

type GetDocumentResponse struct {
	Document DocumentDescription `json:"document"`
	Content  string              `json:"content"`
}

type ListDocumentsRequest struct {
	SessionType string `json:"session_type,omitempty"` // filter
	MaxResults  int    `json:"max_results,omitempty"`
	NextToken   string `json:"next_token,omitempty"`
}

type ListDocumentsResponse struct {
	Documents []DocumentDescription `json:"documents"`
	NextToken string                `json:"next_token,omitempty"`
}

type DeleteDocumentRequest struct {
	Name string `json:"name"`
}

// Preferences are the inputs of a Standard_Stream document (SSM's session preferences).
// Durations are in minutes, as SSM has them.
type Preferences struct {
	IdleSessionTimeout int    `json:"idleSessionTimeout,omitempty"` // minutes, 1-60; 0 = the default, 20
	MaxSessionDuration int    `json:"maxSessionDuration,omitempty"` // minutes, 1-1440; 0 = no limit
	RunAsEnabled       bool   `json:"runAsEnabled,omitempty"`
	RunAsDefaultUser   string `json:"runAsDefaultUser,omitempty"`
	ShellProfileLinux  string `json:"shellProfileLinux,omitempty"`
	// TranscriptRetentionDays is how long the transcript stream keeps a session's frames
	// (1-3650); 0 = the stream's own limit.
	TranscriptRetentionDays int    `json:"transcriptRetentionDays,omitempty"`
	S3BucketName            string `json:"s3BucketName,omitempty"`
	S3KeyPrefix             string `json:"s3KeyPrefix,omitempty"`
	S3EncryptionEnabled     bool   `json:"s3EncryptionEnabled,omitempty"`
	// RecordInput records the client's input as well as the output.
	RecordInput bool `json:"recordInput,omitempty"`
	// StreamingEnabled uploads a long session's recording in parts while it runs.
	StreamingEnabled bool `json:"streamingEnabled,omitempty"`
}

type GetPreferencesResponse struct {
	Document    DocumentDescription `json:"document"`
	Preferences Preferences         `json:"preferences"`
}

// ResumeSessionRequest asks to reattach to an active session.
type ResumeSessionRequest struct {
	SessionID string `json:"session_id"`
}

// PolicyFile is one file of a policy bundle: a .rego module or a data.json / data.yaml
// document, at a slash-separated path relative to the bundle's root.
type PolicyFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// PushPolicyRequest replaces the policy bundle every broker evaluates.
type PushPolicyRequest struct {
	Files []PolicyFile `json:"files"`
}

// PolicyBundleInfo identifies a policy bundle.
type PolicyBundleInfo struct {
	Revision string    `json:"revision"` // sha256 of the bundle's files, hex, first 16
	Source   string    `json:"source"`   // "shipped", "dir:/path" or "pushed"
	PushedBy string    `json:"pushed_by,omitempty"`
	PushedAt time.Time `json:"pushed_at,omitzero"`
	Files    int       `json:"files"`
}

type PushPolicyResponse struct {
	Bundle PolicyBundleInfo `json:"bundle"`
}

// BrokerPolicy is the bundle one broker evaluates now.
type BrokerPolicy struct {
	Server   string    `json:"server"`
	Revision string    `json:"revision"`
	LoadedAt time.Time `json:"loaded_at"`
	Error    string    `json:"error,omitempty"` // the last refused bundle's error
}

type PolicyStatusResponse struct {
	Pushed  *PolicyBundleInfo `json:"pushed,omitempty"` // the bundle in the policy bucket, if any
	Brokers []BrokerPolicy    `json:"brokers"`
}

// EvaluatePolicyRequest asks what the policy would decide, without doing anything.
// User defaults to the caller; Action to StartSession.
type EvaluatePolicyRequest struct {
	User       string              `json:"user,omitempty"`
	Action     string              `json:"action,omitempty"`
	Target     string              `json:"target,omitempty"`
	Document   string              `json:"document_name,omitempty"`
	Parameters map[string][]string `json:"parameters,omitempty"`
	SessionID  string              `json:"session_id,omitempty"`
}

type EvaluatePolicyResponse struct {
	Allow       bool           `json:"allow"`
	Reasons     []string       `json:"reasons,omitempty"`
	Obligations map[string]any `json:"obligations,omitempty"`
	Revision    string         `json:"revision"`
	// Input is the decision input the policy saw.
	Input json.RawMessage `json:"input,omitempty"`
}
