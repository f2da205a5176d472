// Package shell starts a session's process: the user's login shell or a command in a
// pseudo-terminal, or a command with separate stdin, stdout and stderr pipes, each in its own
// process group, as the agent's user or another local account, and reports how it exited.
package shell
