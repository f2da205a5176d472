// Package logkey names the log/slog attribute keys every agent package logs with, so one
// field means one thing across the agent's logs.
package logkey
