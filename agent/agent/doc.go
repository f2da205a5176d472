// Package agent is tether-agent's core: it enrolls once, keeps a connection to the broker,
// registers and heartbeats, and runs the sessions the control plane starts on it.
//
// One process per instance: the state directory's lock (streams/statelock) stops a second
// agent on the same directory, and the broker refuses a second process with the same
// identity. Each process picks a run id when it starts (Agent.runID) and sends it with every
// Register and Heartbeat; while another run of the instance is connected, the broker answers
// Conflict, and Run stops as on a signal and returns ErrSecondAgent with the broker's reason.
// It does not retry: connected, it would receive the first process's session starts on the
// instance's control subject and run them a second time.
package agent
