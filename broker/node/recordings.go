package node

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/store"
)

// Recordings configure where a node ships session recordings.
type Recordings struct {
	// Dir is the local directory backend (default StateDir/recordings), used unless S3
	// is set.
	Dir string
	S3  *store.S3Config
	// Prefix goes before every key.
	Prefix string
	// Recipients are age public keys recordings are encrypted to.
	Recipients []string
	// NoShip runs no shipper in this node (recordings are still readable through it).
	NoShip bool
}

// OpenUploader opens the backend r names.
func OpenUploader(ctx context.Context, r Recordings, stateDir string) (ship.Uploader, error) {
	if r.S3 != nil {
		u, err := store.NewS3(ctx, *r.S3)
		if err != nil {
			return nil, fmt.Errorf("recordings: %w", err)
		}
		return u, nil
	}
	dir := r.Dir
	if dir == "" {
		dir = filepath.Join(stateDir, "recordings")
	}
	u, err := store.NewDir(dir)
	if err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	return u, nil
}

// NewShipper is a shipper over a node's streams (or another process's connection to them).
func NewShipper(js jetstream.JetStream, b *jsdef.Buckets, u ship.Uploader, r Recordings, name string, log *slog.Logger, m *ship.Metrics) (*ship.Shipper, error) {
	return ship.New(ship.Config{
		JS: js, Sessions: b.Sessions, Index: b.Recordings, Uploader: u,
		Prefix: r.Prefix, Name: name, Recipients: r.Recipients, Logger: log, Metrics: m,
	})
}
