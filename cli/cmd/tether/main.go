// Command tether is the user's and administrator's command line for Tether.
package main

import (
	"os"

	"github.com/tetherhq/tether/cli/clicmd"
	"github.com/tetherhq/tether/streams/cpuprofile"
	"github.com/tetherhq/tether/streams/gctune"
)

func main() {
	gctune.Apply()
	stop := cpuprofile.Start()
	code := clicmd.Main(os.Args[1:])
	stop()
	os.Exit(code)
}
