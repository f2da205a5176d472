// Package shell starts a session's process: the user's login shell or a command in a
// pseudo-terminal, or a command with separate stdin, stdout and stderr pipes, each in its own
// process group, as the agent's user or another local account, and reports how it exited.
// What the process leaves in its process group (and, for a terminal, its session) is ended
// when it exits; Group ends such leftovers of a process an earlier agent started (reap.go).
package shell
