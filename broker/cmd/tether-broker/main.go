// Command tether-broker runs the Tether broker.
package main

import (
	"os"

	"github.com/tetherhq/tether/broker/brokercmd"
)

func main() { os.Exit(brokercmd.Main(os.Args[1:])) }
