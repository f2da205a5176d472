package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/peertest"
)

// The forwarding section, tiny, end to end: direct, the NATS relay and ssh -L give
// figures, scp through ssh gives one, and Tether without its binaries says "not measured"
// rather than a figure. A smoke test of the harness, with no thresholds.
func TestForwardSectionShort(t *testing.T) {
	if why := sshMissing(); why != "" {
		peertest.Missing(t, why, "openssh-server openssh-client")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := options{bin: t.TempDir(), json: true, sections: map[string]bool{"forward": true},
		fwdSizeMiB: 4, fwdRTT: 50, fwdRTTSize: 64, scpSizeMiB: 2}
	rep, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("errors:\n%s", strings.Join(rep.Errors, "\n"))
	}
	if got, want := len(rep.Forwarding), 8; got != want {
		t.Fatalf("got %d forwarding rows, want %d: %+v", got, want, rep.Forwarding)
	}
	for _, r := range rep.Forwarding {
		if r.TetherNote != "not measured" || r.Tether != 0 {
			t.Errorf("%s: tether %v %q, want not measured", r.Metric, r.Tether, r.TetherNote)
		}
		if r.SSH <= 0 {
			t.Errorf("%s: ssh %v %q, want a figure", r.Metric, r.SSH, r.SSHNote)
		}
		if isScp := strings.HasPrefix(r.Metric, "scp"); !isScp && (r.Direct <= 0 || r.SSHDir <= 0) {
			t.Errorf("%s: direct %v %q, ratio %v, want figures", r.Metric, r.Direct, r.DirectNote, r.SSHDir)
		}
		if isScp := strings.HasPrefix(r.Metric, "scp"); !isScp && (r.Relay <= 0 || r.RelaySSH <= 0) {
			t.Errorf("%s: NATS relay %v %q, ratio %v, want figures", r.Metric, r.Relay, r.RelayNote, r.RelaySSH)
		}
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "scp through a plain ProxyCommand") }) {
		t.Errorf("no figures for scp through a plain ProxyCommand in the notes:\n%s", strings.Join(rep.Notes, "\n"))
	}
	var sb strings.Builder
	printTable(&sb, rep)
	if !strings.Contains(sb.String(), "not measured") || !strings.Contains(sb.String(), "ssh -L/direct") {
		t.Errorf("table:\n%s", sb.String())
	}
	t.Logf("\n%s", sb.String())
}

// TestMain lets this test binary be the NATS relay's processes (relay.go) and the scp
// section's plain ProxyCommand too.
func TestMain(m *testing.M) {
	maybeRelay()
	maybeTCPProxy()
	os.Exit(m.Run())
}
