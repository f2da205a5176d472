package api

import (
	"encoding/json"
	"time"
)

// AuditRecord is one authorization decision, as stored in the audit stream on
// subjects.Audit(action).
type AuditRecord struct {
	Time      time.Time       `json:"time"`
	Server    string          `json:"server"`
	Principal string          `json:"principal"`
	Action    string          `json:"action"`
	Input     json.RawMessage `json:"input"`
	Allow     bool            `json:"allow"`
	Reasons   []string        `json:"reasons,omitempty"`
	// Obligations are the conditions an allowed request runs under.
	Obligations map[string]any `json:"obligations,omitempty"`
	Revision    string         `json:"revision"` // the policy bundle that decided
	LatencyUS   int64          `json:"latency_us"`
	// Error is why the policy could not decide (the request was denied).
	Error string `json:"error,omitempty"`
	// Shown and Hidden count the items of a list request that the per-item decisions
	// let through or filtered out; those decisions are summarised here, not recorded
	// one by one.
	Shown  *int `json:"shown,omitempty"`
	Hidden *int `json:"hidden,omitempty"`
}
