// Command tether is the user's and administrator's command line for Tether.
package main

import (
	"os"

	"github.com/tetherhq/tether/cli/clicmd"
	"github.com/tetherhq/tether/streams/gctune"
)

func main() {
	gctune.Apply()
	os.Exit(clicmd.Main(os.Args[1:]))
}
