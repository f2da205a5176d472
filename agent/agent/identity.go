package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/streams/secretfile"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Files in the state directory.
const (
	SeedFile  = "agent.nk"   // the agent's NKEY user seed, mode 0600
	StateFile = "agent.json" // State
)

// State is the content of agent.json.
type State struct {
	InstanceID string `json:"instance_id"`
	BrokerURL  string `json:"broker_url"`
}

// identity is who the agent is: its key and the instance id the control plane gave it.
type identity struct {
	kp         nkeys.KeyPair
	pub        string
	instanceID string
}

// loadIdentity reads the state directory. It returns nil when the agent has no key, and an
// identity with an empty instanceID when the key exists without agent.json.
func loadIdentity(dir string) (*identity, error) {
	seed, err := secretfile.Read(filepath.Join(dir, SeedFile), "agent key")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
	if err != nil {
		return nil, fmt.Errorf("agent key %s: %w", filepath.Join(dir, SeedFile), err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("agent key: %w", err)
	}
	id := &identity{kp: kp, pub: pub}
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return id, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read agent state: %w", err)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("agent state %s: %w", filepath.Join(dir, StateFile), err)
	}
	if err := subjects.ValidName(st.InstanceID); err != nil {
		return nil, fmt.Errorf("agent state %s: instance_id: %w", filepath.Join(dir, StateFile), err)
	}
	id.instanceID = st.InstanceID
	return id, nil
}

// enroll trades the activation for an instance id: it creates a key, presents it with the
// activation, and saves key and identity only once the control plane accepted them.
func (a *Agent) enroll(ctx context.Context) (*identity, error) {
	cfg := a.cfg
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("create agent key: %w", err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	opts := append([]nats.Option{
		nats.Nkey(pub, kp.Sign),
		nats.UserInfo(cfg.ActivationID, cfg.ActivationCode),
		nats.CustomInboxPrefix(subjects.EnrollInbox(pub)),
		nats.Name("tether-agent enrollment"),
		nats.NoReconnect(),
	}, cfg.NATSOptions...)
	nc, err := nats.Connect(cfg.BrokerURL, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) {
			return nil, fmt.Errorf("enrollment refused: the broker did not accept activation %s (wrong id or code, expired, or used up)", cfg.ActivationID)
		}
		return nil, fmt.Errorf("enroll: connect to %s: %w", cfg.BrokerURL, err)
	}
	defer nc.Close()
	host, _ := os.Hostname()
	req := api.EnrollRequest{Hostname: host, OS: runtime.GOOS, Arch: runtime.GOARCH, AgentVersion: cfg.Version}
	var resp api.EnrollResponse
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := api.Call(cctx, nc, subjects.Enroll(cfg.ActivationID, pub), req, &resp); err != nil {
		var apiErr *api.Error
		if errors.As(err, &apiErr) || errors.Is(err, nats.ErrPermissionViolation) {
			return nil, fmt.Errorf("enrollment refused: %w", err)
		}
		return nil, fmt.Errorf("enroll: %w", err)
	}
	if err := subjects.ValidName(resp.InstanceID); err != nil {
		return nil, fmt.Errorf("enroll: control plane returned instance id: %w", err)
	}
	st, _ := json.MarshalIndent(State{InstanceID: resp.InstanceID, BrokerURL: cfg.BrokerURL}, "", "  ")
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(cfg.StateDir, SeedFile), append(seed, '\n'), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(cfg.StateDir, StateFile), append(st, '\n'), 0o600); err != nil {
		return nil, err
	}
	return &identity{kp: kp, pub: pub, instanceID: resp.InstanceID}, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place,
// so path holds either the old or the new content, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
