package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tetherhq/tether/streams/wire/subjects"
)

// Config is the client configuration file, JSON-encoded.
type Config struct {
	// BrokerURL is the NATS URL of a broker, e.g. nats://127.0.0.1:4222; several may be
	// given separated by commas.
	BrokerURL string `json:"broker_url"`
	// User is the user name the broker knows this key as.
	User string `json:"user"`
	// NKeySeedFile holds the user's NKEY seed. A relative path is relative to the
	// directory of the config file. Connect refuses the file when group or others have
	// any permission on it (it must be mode 0600 or tighter).
	NKeySeedFile string `json:"nkey_seed_file"`
	// CAFile, when set, is the PEM bundle that signed the broker's TLS certificate
	// (relative to the config file's directory, like NKeySeedFile).
	CAFile string `json:"ca_file,omitempty"`

	dir  string // directory of the file the config was loaded from
	path string // that file
}

// MaxSize bounds the size of a config file.
const MaxSize = 64 << 10

// DefaultPath is Find with the process's environment.
func DefaultPath() string { return Find(os.Getenv) }

// Find says which config file to use when no --config is given: $TETHER_CONFIG; else the
// user's config ($XDG_CONFIG_HOME/tether/config.json, else ~/.config/tether/config.json)
// when it exists; else the demo's (~/.tether/dev/config.json, written by tether-broker
// dev) when that exists, so a second terminal next to the demo needs no export; else the
// user's config path, for the error to name.
func Find(getenv func(string) string) string {
	if p := getenv("TETHER_CONFIG"); p != "" {
		return p
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	user := filepath.Join(home, ".config", "tether", "config.json")
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		user = filepath.Join(d, "tether", "config.json")
	} else if home == "" {
		user = filepath.Join(".config", "tether", "config.json")
	}
	if exists(user) {
		return user
	}
	if home != "" {
		if dev := DevPath(home); exists(dev) {
			return dev
		}
	}
	return user
}

// DevPath is where tether-broker dev writes its client config, under home.
func DevPath(home string) string { return filepath.Join(home, ".tether", "dev", "config.json") }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Parse strictly decodes a config: unknown fields and trailing data are rejected. It does
// not validate; Load does.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("config is %d bytes, more than %d", len(data), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	c := &Config{}
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode: unexpected data after the JSON object")
	}
	return c, nil
}

// Load reads, decodes and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	c.dir, c.path = filepath.Dir(path), path
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// Validate reports the first field with a missing or bad value.
func (c *Config) Validate() error {
	if c.BrokerURL == "" {
		return errors.New("broker_url is required")
	}
	for _, u := range strings.Split(c.BrokerURL, ",") {
		if err := validURL(strings.TrimSpace(u)); err != nil {
			return fmt.Errorf("broker_url %q: %w", c.BrokerURL, err)
		}
	}
	if c.User == "" {
		return errors.New("user is required")
	}
	if err := subjects.ValidName(c.User); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	if c.NKeySeedFile == "" {
		return errors.New("nkey_seed_file is required")
	}
	if strings.ContainsRune(c.NKeySeedFile, 0) {
		return fmt.Errorf("nkey_seed_file %q: contains a NUL byte", c.NKeySeedFile)
	}
	return nil
}

func validURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("scheme %q: use nats://, tls://, ws:// or wss://", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

// SeedPath returns the path of the NKEY seed file, resolved against the directory of the
// file the config was loaded from.
func (c *Config) SeedPath() string { return c.resolve(c.NKeySeedFile) }

// CAPath is CAFile resolved against the config file's directory; "" when unset.
func (c *Config) CAPath() string {
	if c.CAFile == "" {
		return ""
	}
	return c.resolve(c.CAFile)
}

func (c *Config) resolve(p string) string {
	if filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Write validates c and writes it to path atomically with mode 0600, creating the
// directory (0700) if needed.
func Write(path string, c *Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".config-*.tmp")
	if err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	return nil
}
