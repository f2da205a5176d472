package miniotest

import (
	"path/filepath"
	"testing"

	"github.com/tetherhq/tether/streams/testcerts"
)

// writeCerts makes a throwaway CA and a server certificate for 127.0.0.1 and localhost. It
// writes the server's pair where MinIO's --certs-dir expects them (public.crt,
// private.key) and the CA certificate to caFile.
func writeCerts(t testing.TB, certsDir, caFile string) {
	t.Helper()
	testcerts.Write(t, "tether miniotest", caFile, filepath.Join(certsDir, "public.crt"), filepath.Join(certsDir, "private.key"))
}
