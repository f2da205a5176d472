package version

// Version is set at link time by the Makefile:
//
//	go build -ldflags '-X github.com/tetherhq/tether/version.Version=v1.2.3'
//
// A build without it (go build, go test, go run) reports "dev". The agent tells the
// broker this value when it registers.
var Version = "dev"

// String is what --version prints: the program's name and the version.
func String(program string) string { return program + " " + Version }
