// Package logkey is Tether's one vocabulary of log/slog attribute keys: every binary logs
// a session as session_id, a node as instance_id, an error as err, so that one query
// finds a session's lines across the agent, the broker and the CLI. A test (vocabulary_test.go)
// fails on a key written as a literal at a slog call instead of one of these names.
package logkey
