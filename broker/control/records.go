package control

import (
	"time"

	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Records as the buckets keep them. They are not the wire types: what a caller may see
// is made from them by an explicit conversion, so a field added to a record (a secret,
// say) reaches no reply and no event unless a conversion copies it.

// storedActivation is an activation as the activations bucket keeps it: with the hash
// of its code, which no reply carries.
type storedActivation struct {
	ID                  string            `json:"activation_id"`
	CodeHash            string            `json:"code_hash"`
	Description         string            `json:"description,omitempty"`
	DefaultInstanceName string            `json:"default_instance_name,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	Limit               int               `json:"registration_limit"`
	Used                int               `json:"registrations_count"`
	CreatedAt           time.Time         `json:"created_date"`
	ExpiresAt           time.Time         `json:"expiration_date"`
	CreatedBy           string            `json:"created_by,omitempty"`
}

// view is what an administrator sees of an activation: never its code or the code's hash.
func (a storedActivation) view() api.Activation {
	return api.Activation{
		ID: a.ID, Description: a.Description, DefaultInstanceName: a.DefaultInstanceName, Tags: a.Tags,
		Limit: a.Limit, Used: a.Used, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt, CreatedBy: a.CreatedBy,
	}
}

// gate is what the authentication hook checks an enrollment against.
func (a storedActivation) gate() principals.Activation {
	return principals.Activation{ID: a.ID, CodeHash: a.CodeHash, Limit: a.Limit, Used: a.Used, ExpiresAt: a.ExpiresAt}
}

// storedInstance is a managed instance as the instances bucket keeps it.
type storedInstance struct {
	ID            string            `json:"instance_id"`
	Name          string            `json:"name,omitempty"`
	Hostname      string            `json:"hostname,omitempty"`
	OS            string            `json:"os,omitempty"`
	Arch          string            `json:"arch,omitempty"`
	AgentVersion  string            `json:"agent_version,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	IPAddresses   []string          `json:"ip_addresses,omitempty"`
	LastHeartbeat time.Time         `json:"last_heartbeat"`
	RegisteredAt  time.Time         `json:"registered_at"`
	ActivationID  string            `json:"activation_id,omitempty"`
	NKey          string            `json:"nkey,omitempty"`
}

// view is what DescribeInstanceInformation shows of an instance; the key it connects
// with and the activation it enrolled with only to an administrator.
func (in storedInstance) view(admin bool) api.Instance {
	v := api.Instance{
		ID: in.ID, Name: in.Name, Hostname: in.Hostname, OS: in.OS, Arch: in.Arch,
		AgentVersion: in.AgentVersion, Tags: in.Tags, IPAddresses: in.IPAddresses,
		LastHeartbeat: in.LastHeartbeat, RegisteredAt: in.RegisteredAt,
	}
	if admin {
		v.NKey, v.ActivationID = in.NKey, in.ActivationID
	}
	return v
}
