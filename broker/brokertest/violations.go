package brokertest

import (
	"fmt"
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
func (v *Violations) Has(t testing.TB, substr string) { v.HasN(t, substr, 1) }

// HasN waits for n permissions violations that mention substr: a second refusal of the
// same subject proves the second attempt was refused too.
func (v *Violations) HasN(t testing.TB, substr string, n int) {
	t.Helper()
	WaitFor(t, 5*time.Second, fmt.Sprintf("%d permissions violations for %s", n, substr), func() bool {
		seen := 0
		for _, e := range v.Errs() {
			if strings.Contains(e, "Permissions Violation") && strings.Contains(e, substr) {
				seen++
			}
		}
		return seen >= n
	})
}
