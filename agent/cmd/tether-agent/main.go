// Command tether-agent runs on each managed node: it dials out to a Tether broker and runs
// the sessions started on the node.
package main

import (
	"os"

	"github.com/tetherhq/tether/agent/agentcmd"
	"github.com/tetherhq/tether/streams/gctune"
)

func main() {
	gctune.Apply()
	os.Exit(agentcmd.Main(os.Args[1:]))
}
