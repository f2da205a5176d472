package brokertest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Violations collects the errors the server sends a connection: its permission
// violations. Pass Handler as the connection's nats.ErrorHandler.
type Violations struct {
	mu   sync.Mutex
	errs []string
}

// Handler records one error; it is a nats.ErrHandler.
func (v *Violations) Handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err.Error())
}

// Errs is every error recorded so far.
func (v *Violations) Errs() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.errs...)
}

// Has waits for a permissions violation that mentions substr.
func (v *Violations) Has(t testing.TB, substr string) {
	t.Helper()
	WaitFor(t, 5*time.Second, "permissions violation for "+substr, func() bool {
		for _, e := range v.Errs() {
			if strings.Contains(e, "Permissions Violation") && strings.Contains(e, substr) {
				return true
			}
		}
		return false
	})
}
