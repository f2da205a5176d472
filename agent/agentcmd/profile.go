package agentcmd

import (
	"os"
	"runtime/pprof"
	"strconv"
)

// cpuProfile writes a CPU profile to $TETHER_CPUPROFILE.<pid> for as long as the command
// runs, for performance work with make bench; the returned function stops it.
func cpuProfile() func() {
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
