// Package agentcmd is tether-agent's command line: flags, logging and signal handling
// around package agent.
package agentcmd
