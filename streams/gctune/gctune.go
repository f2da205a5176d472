// Package gctune sets the garbage collector's target for Tether's binaries.
//
// Forwarded connections and session output move large frames through each process: with
// Go's default GOGC of 100, the broker spent a quarter of its CPU collecting the buffers
// nats-server allocates per message (measured with make bench's forwarding section:
// 194 MB/s at GOGC=100, 269 MB/s at 400, the broker at 84% and 75% of a core). A higher
// target trades memory for it: the heap may grow to (1+percent/100) times what is live.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GC target the binaries use unless GOGC says otherwise.
const Percent = 400

// Apply sets the GC target to Percent, unless the environment's GOGC or GOMEMLIMIT
// already chose.
func Apply() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(Percent)
}
