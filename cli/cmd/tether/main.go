// Command tether is the user's and administrator's command line for Tether.
package main

import (
	"os"

	"github.com/tetherhq/tether/cli/clicmd"
)

func main() { os.Exit(clicmd.Main(os.Args[1:])) }
