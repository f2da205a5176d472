// Command tether-broker runs the Tether broker.
package main

import (
	"os"

	"github.com/tetherhq/tether/broker/brokercmd"
	"github.com/tetherhq/tether/streams/gctune"
)

func main() {
	gctune.Apply()
	os.Exit(brokercmd.Main(os.Args[1:]))
}
