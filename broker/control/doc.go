// Package control is the control-plane service: it answers users' and agents' API
// requests on NATS, authorizes them with policy, keeps session and instance state in KV,
// and publishes lifecycle events.
//
// One agent process per instance (agentrun.go): the control plane remembers the run id and
// connection of the process that registered for each instance, and refuses, with Conflict,
// a Register or Heartbeat from another run while that one's connection is open
// (Config.AgentConns, the embedded server's) and its heartbeats are on time. A second
// process with the same key cannot end the first one's sessions; once the first is gone,
// the next replaces it and reconcile ends what it does not run (agent_restarted).
package control
