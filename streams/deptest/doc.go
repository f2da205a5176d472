// Package deptest holds the rules of what may import what in Tether, each with its reason,
// checked by its test with `go list` (in the manner of Tailscale's tstest/deptest). The
// rules keep the layers pointing one way: the wire contract at the bottom, the agent, the
// CLI, the policies and the shipping workers above it, the broker on top.
package deptest
