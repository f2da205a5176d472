package principals

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Kinds of principal.
const (
	KindUser         = "user"
	KindAgent        = "agent"
	KindControlPlane = "control-plane"
	KindEnrollment   = "enrollment"
	// KindShipper is a recording shipper running outside the broker (tether-broker ship).
	KindShipper = "shipper"
)

// Activation is what an enrollment is checked against: the hash of the activation's
// code, and whether it has registrations and time left.
type Activation struct {
	ID        string
	CodeHash  string
	Limit     int
	Used      int
	ExpiresAt time.Time
}

// Identity is who an NKEY belongs to.
type Identity struct {
	Kind  string
	Name  string // user name or instance id
	Admin bool
}

// Grant is the account id connects into and what it may do there; nkey is the key it
// connected with (an enrolling agent's account is its key's). The control plane has no
// grant (it connects into the service account with every permission), nor has a kind
// this package does not know: ok is false for both.
func (id Identity) Grant(nkey string) (g accounts.Grant, ok bool) {
	switch id.Kind {
	case KindUser:
		return accounts.User(id.Name, id.Admin), true
	case KindAgent:
		return accounts.Agent(id.Name), true
	case KindShipper:
		return accounts.Shipper(id.Name), true
	case KindEnrollment:
		return accounts.Enrollment(id.Name, nkey), true
	}
	return accounts.Grant{}, false
}

// Directory is safe for concurrent use. The control plane writes it; the server's auth
// hook reads it on every connection.
type Directory struct {
	mu          sync.RWMutex
	internal    map[string]bool
	users       map[string]api.User // by name
	userKeys    map[string]string   // nkey -> name
	agents      map[string]string   // nkey -> instance id
	activations map[string]Activation
	shippers    map[string]string // nkey -> shipper name
	now         func() time.Time
	// adminGroups are the policy's admin groups; their members are Identity.Admin.
	adminGroups func() []string
}

// New returns an empty directory.
func New() *Directory {
	return &Directory{
		internal:    map[string]bool{},
		users:       map[string]api.User{},
		userKeys:    map[string]string{},
		agents:      map[string]string{},
		activations: map[string]Activation{},
		shippers:    map[string]string{},
		now:         time.Now,
		adminGroups: func() []string { return nil },
	}
}

// IsAdmin reports whether a member of groups is an admin by the policy in force.
func (d *Directory) IsAdmin(groups []string) bool {
	d.mu.RLock()
	admins := d.adminGroups
	d.mu.RUnlock()
	return inAny(groups, admins())
}

// AdminKeys lists the keys of the users who are admins by the policy in force, by key.
func (d *Directory) AdminKeys() map[string]bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	admins := d.adminGroups()
	out := map[string]bool{}
	for _, u := range d.users {
		if inAny(u.Groups, admins) {
			out[u.NKey] = true
		}
	}
	return out
}

// SetAdminGroups says where the admin groups come from: the policy in force, so that the
// connection-level rights of an admin follow the policy's own list.
func (d *Directory) SetAdminGroups(groups func() []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.adminGroups = groups
}

// AddInternal registers a control-plane key: full permissions.
func (d *Directory) AddInternal(nkey string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.internal[nkey] = true
}

// PutShipper registers the key of an out-of-process shipper (from the broker's
// configuration).
func (d *Directory) PutShipper(name, nkey string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shippers[nkey] = name
}

// PutUser adds or replaces a user.
func (d *Directory) PutUser(u api.User) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.users[u.Name]; ok {
		delete(d.userKeys, old.NKey)
	}
	d.users[u.Name] = u
	d.userKeys[u.NKey] = u.Name
}

// RemoveUser forgets a user and returns the key it had ("" if it was unknown).
func (d *Directory) RemoveUser(name string) (nkey string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.users[name]; ok {
		delete(d.userKeys, old.NKey)
		delete(d.users, name)
		return old.NKey
	}
	return ""
}

// User returns a user by name.
func (d *Directory) User(name string) (api.User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	u, ok := d.users[name]
	return u, ok
}

// PutAgent maps an agent's key to its instance id.
func (d *Directory) PutAgent(nkey, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range d.agents {
		if v == id {
			delete(d.agents, k)
		}
	}
	d.agents[nkey] = id
}

// RemoveAgent forgets an instance and returns the key it had ("" if it was unknown).
func (d *Directory) RemoveAgent(id string) (nkey string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range d.agents {
		if v == id {
			delete(d.agents, k)
			nkey = k
		}
	}
	return nkey
}

// KeyInUse reports whether nkey already belongs to a principal.
func (d *Directory) KeyInUse(nkey string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, u := d.userKeys[nkey]
	_, a := d.agents[nkey]
	_, sh := d.shippers[nkey]
	return u || a || sh || d.internal[nkey]
}

// PutActivation adds or replaces an activation.
func (d *Directory) PutActivation(a Activation) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.activations[a.ID] = a
}

// RemoveActivation forgets an activation.
func (d *Directory) RemoveActivation(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.activations, id)
}

// Resolve returns who nkey belongs to.
func (d *Directory) Resolve(nkey string) (Identity, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.internal[nkey] {
		return Identity{Kind: KindControlPlane, Name: "control-plane", Admin: true}, true
	}
	if name, ok := d.userKeys[nkey]; ok {
		u := d.users[name]
		return Identity{Kind: KindUser, Name: name, Admin: inAny(u.Groups, d.adminGroups())}, true
	}
	if id, ok := d.agents[nkey]; ok {
		return Identity{Kind: KindAgent, Name: id}, true
	}
	if name, ok := d.shippers[nkey]; ok {
		return Identity{Kind: KindShipper, Name: name}, true
	}
	return Identity{}, false
}

// CheckActivation reports whether code is the code of a live activation with
// registrations left. The final, atomic check happens when the enrollment is stored.
func (d *Directory) CheckActivation(id, code string) bool {
	d.mu.RLock()
	a, ok := d.activations[id]
	d.mu.RUnlock()
	if !ok || a.Used >= a.Limit || !d.now().Before(a.ExpiresAt) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashCode(code)), []byte(a.CodeHash)) == 1
}

// ActivationLimit is how many registrations activation id allows (0 if there is no such
// activation).
func (d *Directory) ActivationLimit(id string) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.activations[id].Limit
}

// HashCode is how activation codes are stored: never in clear.
func HashCode(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

func inAny(groups, admin []string) bool {
	for _, g := range groups {
		for _, a := range admin {
			if g == a {
				return true
			}
		}
	}
	return false
}
