// Package control is the control-plane service: it answers users' and agents' API
// requests on NATS, authorizes them with policy, keeps session and instance state in KV,
// and publishes lifecycle events.
package control
