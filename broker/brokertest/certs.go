package brokertest

import (
	"path/filepath"
	"testing"

	"github.com/tetherhq/tether/streams/testcerts"
)

// writeTestCerts makes a CA and a server certificate for 127.0.0.1 and localhost, and
// returns the paths of the CA certificate, the server certificate and its key.
func writeTestCerts(t testing.TB) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "broker.pem"), filepath.Join(dir, "broker-key.pem")
	testcerts.Write(t, "tether test broker", ca, cert, key)
	return ca, cert, key
}
