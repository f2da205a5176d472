// Package cpuprofile writes a CPU profile of the running process to
// $TETHER_CPUPROFILE.<pid> while it runs, for performance work with make bench. All three
// binaries use it.
package cpuprofile

import (
	"os"
	"runtime/pprof"
	"strconv"
)

// Start starts profiling when TETHER_CPUPROFILE is set; the returned function stops it.
func Start() (stop func()) {
	path := os.Getenv("TETHER_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path + "." + strconv.Itoa(os.Getpid()))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
