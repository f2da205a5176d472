package attacks_test

import (
	"testing"

	"github.com/tetherhq/tether/streams/wire/api"
)

// The harness itself: a user, an agent and a session between them, and a broker state
// that a harmless request leaves unchanged.
func TestHarness(t *testing.T) {
	w := newWorld(t)
	a := w.agent(t, "web-1")
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	before := w.snapshot(t)
	var who api.WhoAmIResponse
	if err := w.Call(alice.Conn, "alice", api.VerbWhoAmI, nil, &who); err != nil || who.Principal.Name != "alice" {
		t.Fatalf("whoami: %+v %v", who, err)
	}
	w.unchanged(t, before)
	start := w.startSession(t, w.Admin, "admin", a.id)
	if start.Session.ID == "" || a.started() != 1 {
		t.Fatalf("session %+v, agent saw %d starts", start.Session, a.started())
	}
}
