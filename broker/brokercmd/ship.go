package brokercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/broker/config"
	"github.com/tetherhq/tether/broker/metrics"
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/secretfile"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/shipd"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// shipMain runs a shipper (and the streamer and the events/audit archiver) outside the
// broker, connected with a shipper key the broker knows (--shipper NAME=UKEY there). It
// only binds the durable consumers the broker made, whose configuration (AckWait among
// it) is the broker's, and reads the streams by direct gets.
func shipMain(args []string, stderr io.Writer) error {
	fs := newFlagSet("ship", "Runs a recording shipper outside the broker, connected with a shipper key the\n"+
		"broker accepts (tether-broker run --shipper NAME=UKEY).", stderr)
	broker := fs.String("broker", "nats://127.0.0.1:4222", "the broker's URL")
	seedFile := fs.String("nkey-seed", "", "this shipper's NKEY seed file (its public key is given to the broker with --shipper NAME=UKEY)")
	name := fs.String("name", "", "this shipper's name, as the broker knows it (required)")
	caFile := fs.String("tls-ca", "", "a CA certificate (PEM) to trust for the broker's TLS")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	stateDir := fs.String("state-dir", "/var/lib/tether-ship", "where the directory backend keeps recordings by default, and spool/ the files being rendered")
	metricsListen := fs.String("metrics-listen", "", "serve Prometheus metrics on host:port/metrics")
	rf := recordingFlags(fs.FlagSet)
	if err := fs.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if *name == "" || *seedFile == "" {
		return usageError{errors.New("--name and --nkey-seed are required")}
	}
	if err := subjects.ValidName(*name); err != nil {
		return usageError{fmt.Errorf("--name: %w", err)}
	}
	cfg := config.Default()
	rf.apply(&cfg)
	if cfg.Recordings.NoShip {
		return usageError{errors.New("--no-ship makes no sense here")}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	rec, err := recordingsOptions(cfg.Recordings)
	if err != nil {
		return err
	}
	seed, err := secretfile.Read(*seedFile, "nkey seed")
	if err != nil {
		return err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return fmt.Errorf("nkey seed %s: %w", *seedFile, err)
	}
	pub, _ := kp.PublicKey()
	log := newLogger(stderr, *logLevel).With(logkey.Shipper, *name)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := []nats.Option{
		nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(subjects.ShipperInbox(*name)),
		nats.Name("tether-ship " + *name), nats.MaxReconnects(-1), nats.IgnoreAuthErrorAbort(),
	}
	if *caFile != "" {
		opts = append(opts, nats.RootCAs(*caFile))
	}
	nc, err := nats.Connect(*broker, opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *broker, err)
	}
	defer nc.Close()
	// The broker's JetStream is reached through the imports of the shipper's account.
	js, err := jetstream.NewWithAPIPrefix(nc, accounts.ShipperAPIPrefix)
	if err != nil {
		return err
	}
	b, err := jsdef.BindShipping(ctx, js)
	if err != nil {
		return err
	}
	up, err := shipd.OpenUploader(ctx, rec, *stateDir)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	shipMetrics, err := ship.NewMetrics(reg, js)
	if err != nil {
		return err
	}
	if *metricsListen != "" {
		ms, err := metrics.Serve(*metricsListen, reg, log)
		if err != nil {
			return err
		}
		defer ms.Close()
	}
	w, err := shipd.Start(ctx, shipd.Config{
		JS: js, Buckets: b, Uploader: up, Recordings: rec, Name: *name, Logger: log, Metrics: shipMetrics,
		SpoolDir: filepath.Join(*stateDir, "spool"),
	})
	if err != nil {
		return err
	}
	shipErr := w.Wait()
	log.Info("shipper stopped")
	return shipErr
}
