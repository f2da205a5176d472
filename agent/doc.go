// Package agent is the map of tether-agent, the program on each managed node. It dials out
// to the broker; it listens on nothing. It imports the wire contract (streams/wire) and
// nothing of the broker's; its binary links no NATS server and no policy engine
// (streams/deptest).
//
//	cmd/tether-agent  main
//	agentcmd          flags, logging, signals
//	agent             enrol once, connect, register, heartbeat; start and end sessions the
//	                  control plane asks for (its requests to the agent arrive on the agent's
//	                  API subject; the agent answers only there)
//	                  orphans.go: records each session's process in <state>/sessions and,
//	                  starting, ends what a crashed agent's sessions left running
//	channel           one session's data: output frames to JetStream within the client's
//	                  credit window, input frames from the client to the process
//	shell             the process: a login shell or a command, in a PTY or with pipes, as
//	                  the agent's user or another local account
//	                  reap.go: a process's group (and a terminal's session) ends with it;
//	                  Group finds and ends one by /proc, its leader gone or not
//	limits            idle timeout and maximum duration
package agent
