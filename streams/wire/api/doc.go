// Package api holds the request and response types of the control plane, shared by the
// broker, the agent and the CLI; it imports nothing heavier than nats.go.
package api
