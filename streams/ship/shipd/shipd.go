// Package shipd assembles the shipping workers of one process: the shipper (whole
// recordings of ended sessions), the streamer (recordings in parts while a session that
// asks for it runs) and the archiver (events and audit), over one JetStream and one
// backend. The broker runs them in-process (broker/brokerd); `tether-broker ship` runs
// them alone, connected as a shipper principal (broker/brokercmd).
//
// What triggers them: the terminal events (session.terminated, session.failed) the
// broker stores in the events stream reach the shipper through the broker-made durable
// consumer ship.ConsumerName; session.started reaches the streamer through
// ship.StreamerConsumer; the archiver polls the events and audit streams.
package shipd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/store"
	"github.com/tetherhq/tether/streams/statelock"
)

// Recordings configure where recordings are shipped.
type Recordings struct {
	// Dir is the local directory backend (default StateDir/recordings), used unless S3
	// is set.
	Dir string
	S3  *store.S3Config
	// Prefix goes before every key.
	Prefix string
	// Recipients are age public keys recordings are encrypted to.
	Recipients []string
	// NoShip runs no shipping workers in the broker (recordings are still readable
	// through it).
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

// Config is what the workers need.
type Config struct {
	// JS reaches the broker's streams: in-process, or through a shipper account's imports.
	JS       jetstream.JetStream
	Buckets  *jsdef.Buckets
	Uploader ship.Uploader
	// Recordings give the key prefix and the recipients.
	Recordings Recordings
	// Name is this shipper's name, in its status report and recordings' metadata.
	Name    string
	Logger  *slog.Logger
	Metrics *ship.Metrics
	// SpoolDir holds the files being rendered before they are uploaded: a directory of
	// the process's state (the broker's <state>/spool), locked while the workers run.
	// What a killed shipper left there is removed at start; each file is removed once
	// uploaded or abandoned. Empty: the system's temporary directory, never cleaned.
	SpoolDir string
}

// Workers are running shipping workers.
type Workers struct {
	// Shipper is the running shipper (for its status).
	Shipper *ship.Shipper
	js      jetstream.JetStream
	stop    context.CancelFunc
	done    chan struct{}
	err     error // the shipper's, once done
	spool   *statelock.Lock
}

// Start starts the workers; they run until ctx is done or Stop.
func Start(ctx context.Context, c Config) (*Workers, error) {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spool, err := openSpool(c.SpoolDir, log)
	if err != nil {
		return nil, err
	}
	sh, err := ship.New(ship.Config{
		JS: c.JS, Sessions: c.Buckets.Sessions, Index: c.Buckets.Recordings, Uploader: c.Uploader,
		Prefix: c.Recordings.Prefix, Name: c.Name, Recipients: c.Recordings.Recipients, Logger: log, Metrics: c.Metrics,
		WorkDir: c.SpoolDir,
	})
	if err == nil {
		var arch *ship.Archiver
		arch, err = ship.NewArchiver(ship.ArchiveConfig{JS: c.JS, Index: c.Buckets.Recordings, Uploader: c.Uploader, Prefix: c.Recordings.Prefix, Logger: log})
		if err == nil {
			return start(ctx, c, sh, arch, spool, log), nil
		}
	}
	_ = spool.Release()
	return nil, err
}

// openSpool locks the spool directory, so that no other shipper renders there, and
// removes what an earlier one left behind.
func openSpool(dir string, log *slog.Logger) (*statelock.Lock, error) {
	if dir == "" {
		return nil, nil
	}
	lock, err := statelock.Acquire(dir, "tether shipper")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ship.WorkFilePattern))
	for _, f := range left {
		if err := os.Remove(f); err != nil {
			log.Warn("remove a spool file left behind", logkey.Key, f, logkey.Err, err)
		}
	}
	if len(left) > 0 {
		log.Info("removed spool files an earlier shipper left", logkey.Count, len(left))
	}
	return lock, nil
}

func start(ctx context.Context, c Config, sh *ship.Shipper, arch *ship.Archiver, spool *statelock.Lock, log *slog.Logger) *Workers {
	ctx, stop := context.WithCancel(ctx)
	w := &Workers{Shipper: sh, js: c.JS, stop: stop, done: make(chan struct{}), spool: spool}
	var wg sync.WaitGroup
	if st := ship.NewStreamer(sh); st != nil {
		wg.Go(func() {
			if err := st.Run(ctx); err != nil {
				log.Error("streamer stopped", logkey.Err, err)
			}
		})
	}
	wg.Go(func() {
		if err := sh.Run(ctx); err != nil {
			log.Error("shipper stopped", logkey.Err, err)
			w.err = err
		}
	})
	wg.Go(func() { _ = arch.Run(ctx) })
	go func() {
		wg.Wait()
		_ = w.spool.Release()
		close(w.done)
	}()
	return w
}

// Wait waits until the workers stop, and returns the shipper's error.
func (w *Workers) Wait() error {
	<-w.done
	return w.err
}

// Stop stops the workers and waits for them. A shipment under way is abandoned and
// delivered again later.
func (w *Workers) Stop() error {
	w.stop()
	return w.Wait()
}

// Drain waits, up to d, until no ended session waits to be shipped.
func (w *Workers) Drain(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := func() (*jetstream.ConsumerInfo, error) {
			c, err := w.js.Consumer(ctx, jsdef.StreamEvents, ship.ConsumerName)
			if err != nil {
				return nil, err
			}
			return c.Info(ctx)
		}()
		cancel()
		if err != nil || info.NumPending+uint64(info.NumAckPending) == 0 {
			return
		}
		select {
		case <-w.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
