package brokercmd

import (
	"encoding/base64"
	"flag"
	"fmt"
	"strings"

	"github.com/tetherhq/tether/broker/config"
	"github.com/tetherhq/tether/streams/secretfile"
	"github.com/tetherhq/tether/streams/ship/shipd"
	"github.com/tetherhq/tether/streams/ship/store"
)

// stringsFlag collects a repeated flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

type recFlags struct {
	dir, prefix                          *string
	s3Endpoint, s3Bucket, s3Region, s3CA *string
	s3SSE, s3SSECKeyFile                 *string
	s3PathStyle, s3TLS, noShip           *bool
	recipients                           stringsFlag
}

// recordingFlags adds the flags that say where recordings are shipped.
func recordingFlags(fs *flag.FlagSet) *recFlags {
	r := &recFlags{
		dir:           fs.String("recordings-dir", "", "ship recordings to this directory (default STATE_DIR/recordings)"),
		prefix:        fs.String("recordings-prefix", "", "key prefix of every recording"),
		s3Endpoint:    fs.String("s3-endpoint", "", "ship recordings to this S3-compatible endpoint host:port (credentials from AWS_* or ~/.aws/credentials)"),
		s3Bucket:      fs.String("s3-bucket", "", "the bucket, with --s3-endpoint"),
		s3Region:      fs.String("s3-region", "", "the bucket's region"),
		s3CA:          fs.String("s3-ca", "", "a CA certificate (PEM) to trust for the endpoint's TLS"),
		s3SSE:         fs.String("s3-sse", "", "server-side encryption: sse-s3 or sse-c"),
		s3SSECKeyFile: fs.String("s3-sse-c-key-file", "", "the 32-byte SSE-C key (raw or base64)"),
		s3PathStyle:   fs.Bool("s3-path-style", false, "address the bucket as endpoint/bucket"),
		s3TLS:         fs.Bool("s3-tls", false, "connect to the endpoint with HTTPS"),
		noShip:        fs.Bool("no-ship", false, "run no shipper in this broker (run tether-broker ship elsewhere)"),
	}
	fs.Var(&r.recipients, "recipient", "encrypt recordings to this age public key (repeatable)")
	return r
}

// apply lays the flags over the configuration file's values.
func (r *recFlags) apply(c *config.Config) {
	if *r.dir != "" {
		c.Recordings.Dir = *r.dir
	}
	if *r.prefix != "" {
		c.Recordings.Prefix = *r.prefix
	}
	if *r.s3Endpoint != "" || *r.s3Bucket != "" {
		s3 := c.Recordings.S3
		if s3 == nil {
			s3 = &config.S3{}
		}
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&s3.Endpoint, *r.s3Endpoint)
		set(&s3.Bucket, *r.s3Bucket)
		set(&s3.Region, *r.s3Region)
		set(&s3.CAFile, *r.s3CA)
		set(&s3.SSE, *r.s3SSE)
		set(&s3.SSECKeyFile, *r.s3SSECKeyFile)
		s3.PathStyle = s3.PathStyle || *r.s3PathStyle
		s3.TLS = s3.TLS || *r.s3TLS
		c.Recordings.S3 = s3
	}
	c.Recordings.Recipients = append(c.Recordings.Recipients, r.recipients...)
	c.Recordings.NoShip = c.Recordings.NoShip || *r.noShip
}

// recordingsOptions turns the configuration into the broker's.
func recordingsOptions(c config.Recordings) (shipd.Recordings, error) {
	o := shipd.Recordings{Dir: c.Dir, Prefix: c.Prefix, Recipients: c.Recipients, NoShip: c.NoShip}
	if s3 := c.S3; s3 != nil {
		sc := store.S3Config{
			Endpoint: s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket, PathStyle: s3.PathStyle,
			UseTLS: s3.TLS, CAFile: s3.CAFile, SSE: s3.SSE,
		}
		if s3.SSECKeyFile != "" {
			key, err := readSSECKey(s3.SSECKeyFile)
			if err != nil {
				return o, err
			}
			sc.SSECKey = key
		}
		o.S3 = &sc
	}
	return o, nil
}

// readSSECKey reads a 32-byte SSE-C key, raw or base64.
func readSSECKey(path string) ([]byte, error) {
	b, err := secretfile.Read(path, "SSE-C key")
	if err != nil {
		return nil, fmt.Errorf("recordings.s3.sse_c_key_file: %w", err)
	}
	if len(b) == 32 {
		return b, nil
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, fmt.Errorf("recordings.s3.sse_c_key_file: %s holds neither 32 bytes nor their base64", path)
}
