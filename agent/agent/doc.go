// Package agent is tether-agent's core: it enrolls once, keeps a connection to the broker,
// registers and heartbeats, and runs the sessions the control plane starts on it.
package agent
