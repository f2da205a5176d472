package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// durationField finds the field of data (a JSON object) that holds the bad duration
// raw, as a path like "transcripts.max_age"; "" when none does.
func durationField(data []byte, raw string) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	var walk func(v any, path string) string
	walk = func(v any, path string) string {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		for k, x := range m {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if b, err := json.Marshal(x); err == nil && string(b) == raw && isDurationField(p) {
				return p
			}
			if found := walk(x, p); found != "" {
				return found
			}
		}
		return ""
	}
	return walk(v, "")
}

// isDurationField reports whether path names a Duration field of Config.
func isDurationField(path string) bool {
	t := reflect.TypeFor[Config]()
	for _, name := range strings.Split(path, ".") {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		found := false
		for f := range t.Fields() {
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return t == reflect.TypeFor[api.Duration]()
}

// Admin is a user seeded with the admins group at every start.
type Admin struct {
	Name string `json:"name"`
	NKey string `json:"nkey"`
}

// Transcripts bound what the transcript stream keeps.
type Transcripts struct {
	MaxAge   api.Duration `json:"max_age"`
	MaxBytes int64        `json:"max_bytes"`
	// AgentBudget is how many bytes of the stream one instance may hold (0: an eighth of
	// MaxBytes): past it, its sessions end and it may start no new one until they leave
	// the stream, so that one node cannot fill it for everyone.
	AgentBudget int64 `json:"agent_budget,omitempty"`
	// ReserveBytes is the free space the stream must have for a session to start (0:
	// max(64 MiB, 2% of MaxBytes), at most a quarter of it).
	ReserveBytes int64 `json:"reserve_bytes,omitempty"`
	// ShippedGrace is how long a session's frames stay in the stream after its recording
	// is shipped (0: an hour); a longer transcriptRetentionDays of the session wins.
	ShippedGrace api.Duration `json:"shipped_grace,omitempty"`
}

// S3 is an S3-compatible bucket recordings are shipped to. Credentials come from the
// standard AWS environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN) or the ~/.aws/credentials file, never from this file.
type S3 struct {
	Endpoint string `json:"endpoint"` // host:port
	Region   string `json:"region,omitempty"`
	Bucket   string `json:"bucket"`
	// PathStyle addresses the bucket as endpoint/bucket rather than bucket.endpoint.
	PathStyle bool `json:"path_style,omitempty"`
	// TLS connects with HTTPS; CAFile (PEM) is a CA to trust besides the system's.
	TLS    bool   `json:"tls,omitempty"`
	CAFile string `json:"ca_file,omitempty"`
	// SSE is "", "sse-s3" or "sse-c"; SSE-C takes its 32-byte key from SSECKeyFile.
	SSE         string `json:"sse,omitempty"`
	SSECKeyFile string `json:"sse_c_key_file,omitempty"`
}

// Recordings say where session recordings are shipped.
type Recordings struct {
	// Dir is the local directory backend (default STATE_DIR/recordings), used unless S3
	// is set.
	Dir string `json:"dir,omitempty"`
	S3  *S3    `json:"s3,omitempty"`
	// Prefix goes before every key (then the session's s3KeyPrefix preference).
	Prefix string `json:"prefix,omitempty"`
	// Recipients are age public keys (age1…) recordings are encrypted to before they
	// leave the broker.
	Recipients []string `json:"recipients,omitempty"`
	// NoShip stops this broker from running a shipper (run "tether-broker ship" elsewhere).
	NoShip bool `json:"no_ship,omitempty"`
}

// Config is the broker's configuration file (JSON).
type Config struct {
	Listen        string `json:"listen"`
	MonitorListen string `json:"monitor_listen,omitempty"`
	// MetricsListen serves Prometheus metrics on host:port/metrics.
	MetricsListen     string       `json:"metrics_listen,omitempty"`
	ServerName        string       `json:"server_name,omitempty"`
	StateDir          string       `json:"state_dir"`
	PolicyDir         string       `json:"policy_dir,omitempty"`
	HeartbeatInterval api.Duration `json:"heartbeat_interval"`
	AgentLostAfter    api.Duration `json:"agent_lost_after"`
	// ResumeWindow is how long a session outlives the loss of its client or of the broker:
	// clients reconnect and resume by themselves within it, agents hold output under flow
	// control, and a command session whose client stays away longer ends (client_gone).
	ResumeWindow api.Duration `json:"resume_window"`
	Admins       []Admin      `json:"admins,omitempty"`
	Transcripts  Transcripts  `json:"transcripts"`
	LogLevel     string       `json:"log_level,omitempty"`
	// TLSCertFile and TLSKeyFile (PEM) turn on TLS for every client and agent.
	TLSCertFile string `json:"tls_cert_file,omitempty"`
	TLSKeyFile  string `json:"tls_key_file,omitempty"`
	// AllowPlaintext accepts a Listen address off loopback without TLS: agents' and
	// users' traffic then crosses the network in clear.
	AllowPlaintext bool `json:"allow_plaintext,omitempty"`
	// AllowRemoteMonitor accepts a MonitorListen address off loopback: the NATS
	// monitoring endpoint has no authentication and shows every connection and subject.
	AllowRemoteMonitor bool       `json:"allow_remote_monitor,omitempty"`
	Recordings         Recordings `json:"recordings"`
	// Shippers are the keys of shippers that run outside the broker
	// ("tether-broker ship"); each may read the recording streams and write the
	// recordings bucket, nothing else.
	Shippers []Admin `json:"shippers,omitempty"`
}

// DefaultResumeWindow is resume_window when the configuration does not say.
const DefaultResumeWindow = 3 * time.Minute

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Listen:            "127.0.0.1:4222",
		StateDir:          "/var/lib/tether",
		HeartbeatInterval: api.Duration(5 * time.Second),
		AgentLostAfter:    api.Duration(15 * time.Second),
		ResumeWindow:      api.Duration(DefaultResumeWindow),
		Transcripts:       Transcripts{MaxAge: api.Duration(30 * 24 * time.Hour), MaxBytes: 10 << 30},
		LogLevel:          "info",
	}
}

// Load reads path over the defaults and validates the result. Unknown fields are errors.
func Load(path string) (Config, error) {
	c, err := Read(path)
	if err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Read reads path over the defaults without validating, for a caller that lays flags
// over the file (a --tls-cert or --allow-plaintext may be what makes it valid) and then
// calls Validate. Unknown fields are errors.
func Read(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		var de *api.DurationError
		if errors.As(err, &de) {
			if field := durationField(b, de.Raw); field != "" {
				return c, fmt.Errorf("config %s: %s: %s is not a duration like \"5s\" or \"720h\": %s", path, field, de.Raw, de.Msg)
			}
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate names the first field with a bad value.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port", c.Listen)
	}
	if c.MonitorListen != "" {
		if _, _, err := net.SplitHostPort(c.MonitorListen); err != nil {
			return fmt.Errorf("monitor_listen: %q is not host:port", c.MonitorListen)
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("metrics_listen: %q is not host:port", c.MetricsListen)
		}
	}
	if c.StateDir == "" {
		return errors.New("state_dir: required")
	}
	if c.HeartbeatInterval < api.Duration(100*time.Millisecond) || c.HeartbeatInterval > api.Duration(5*time.Minute) {
		return fmt.Errorf("heartbeat_interval: %v is outside 100ms..5m", time.Duration(c.HeartbeatInterval))
	}
	if c.AgentLostAfter < 2*c.HeartbeatInterval {
		return fmt.Errorf("agent_lost_after: %v must be at least twice heartbeat_interval", time.Duration(c.AgentLostAfter))
	}
	if c.ResumeWindow < api.Duration(10*time.Second) || c.ResumeWindow > api.Duration(24*time.Hour) {
		return fmt.Errorf("resume_window: %v is outside 10s..24h", time.Duration(c.ResumeWindow))
	}
	for i, a := range c.Admins {
		if err := subjects.ValidName(a.Name); err != nil {
			return fmt.Errorf("admins[%d].name: %w", i, err)
		}
		if err := CheckUserKey(fmt.Sprintf("admins[%d].nkey", i), a.NKey); err != nil {
			return err
		}
	}
	if c.Transcripts.MaxAge < 0 || c.Transcripts.MaxBytes < 0 || c.Transcripts.AgentBudget < 0 ||
		c.Transcripts.ReserveBytes < 0 || c.Transcripts.ShippedGrace < 0 {
		return errors.New("transcripts: max_age, max_bytes, agent_budget, reserve_bytes and shipped_grace must not be negative")
	}
	if t := c.Transcripts; t.MaxBytes > 0 && t.ReserveBytes >= t.MaxBytes {
		return fmt.Errorf("transcripts.reserve_bytes: %d is not less than max_bytes %d: no session could start", t.ReserveBytes, t.MaxBytes)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("tls_cert_file and tls_key_file: give both or neither")
	}
	if c.TLSCertFile == "" && !c.AllowPlaintext && !isLoopback(c.Listen) {
		return fmt.Errorf("listen (--listen) %s serves clients without TLS on a non-loopback address: "+
			"set tls_cert_file and tls_key_file (--tls-cert, --tls-key), or set allow_plaintext "+
			"(--allow-plaintext) to accept that agents' and users' traffic crosses the network in clear", c.Listen)
	}
	if c.MonitorListen != "" && !c.AllowRemoteMonitor && !isLoopback(c.MonitorListen) {
		return fmt.Errorf("monitor_listen (--monitor) %s is not loopback, and the NATS monitoring endpoint has "+
			"no authentication: anyone who reaches it sees every connection and subject; listen on 127.0.0.1, "+
			"or set allow_remote_monitor (--allow-remote-monitor) to accept that", c.MonitorListen)
	}
	if s3 := c.Recordings.S3; s3 != nil {
		if _, _, err := net.SplitHostPort(s3.Endpoint); err != nil {
			return fmt.Errorf("recordings.s3.endpoint: %q is not host:port", s3.Endpoint)
		}
		if s3.Bucket == "" {
			return errors.New("recordings.s3.bucket: required")
		}
		switch s3.SSE {
		case "", "sse-s3":
		case "sse-c":
			if s3.SSECKeyFile == "" {
				return errors.New("recordings.s3.sse_c_key_file: required with sse-c")
			}
			if !s3.TLS {
				return errors.New("recordings.s3.sse: sse-c needs tls")
			}
		default:
			return fmt.Errorf("recordings.s3.sse: %q is not sse-s3 or sse-c", s3.SSE)
		}
		if c.Recordings.Dir != "" {
			return errors.New("recordings: give dir or s3, not both")
		}
	}
	for i, sh := range c.Shippers {
		if err := subjects.ValidName(sh.Name); err != nil {
			return fmt.Errorf("shippers[%d].name: %w", i, err)
		}
		if err := CheckUserKey(fmt.Sprintf("shippers[%d].nkey", i), sh.NKey); err != nil {
			return err
		}
	}
	for i, r := range c.Recordings.Recipients {
		if strings.HasPrefix(strings.ToUpper(r), "AGE-SECRET-KEY-") {
			return fmt.Errorf("recordings.recipients[%d]: that is an age identity, the private key: give its "+
				"public key (age1…, which age-keygen -y prints), and keep the identity where recordings are read", i)
		}
		if !strings.HasPrefix(r, "age1") {
			return fmt.Errorf("recordings.recipients[%d]: %.20q is not an age public key (age1…)", i, r)
		}
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// CheckUserKey says what is wrong with key where an NKEY user public key belongs; field
// says where ("admins[0].nkey", "--admin alice=…"). A seed, the private half, is never
// repeated: the error gives its public key instead.
func CheckUserKey(field, key string) error {
	if strings.HasPrefix(key, "S") { // every NKEY seed starts with S, no public key does
		pub := "the user public key (U…) that tether keygen printed with it"
		if kp, err := nkeys.FromSeed([]byte(key)); err == nil {
			if p, err := kp.PublicKey(); err == nil && nkeys.IsValidPublicUserKey(p) {
				pub = "its public key " + p
			}
		}
		return fmt.Errorf("%s: this is an NKEY seed, a private key: give %s instead, and keep the seed secret", field, pub)
	}
	if !nkeys.IsValidPublicUserKey(key) {
		return fmt.Errorf("%s: %q is not an NKEY user public key (U…)", field, key)
	}
	return nil
}

// isLoopback reports whether the host of hostport is a loopback address: localhost,
// 127.0.0.0/8 or ::1. An empty host, 0.0.0.0 and :: listen on every interface, and any
// other name may resolve off the machine: none of those is loopback.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
