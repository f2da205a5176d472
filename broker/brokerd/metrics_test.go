package brokerd_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/cli/session"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Shipping shows in the Prometheus metrics: sessions shipped, bytes, and the backlog.
func TestShippingMetrics(t *testing.T) {
	s := brokertest.NewServer(t, func(o *brokerd.Options) { o.MetricsListen = "127.0.0.1:0" })
	startAgent(t, s, "web-1")
	var start api.StartSessionResponse
	if err := s.Call(s.Admin, "admin", api.VerbStartSession, api.StartSessionRequest{Target: "web-1", Command: []string{"echo", "metered"}}, &start); err != nil {
		t.Fatal(err)
	}
	if code, err := session.Run(context.Background(), s.Admin, start, session.Options{Stdout: io.Discard, Stderr: io.Discard, NoStdin: true}); err != nil || code != 0 {
		t.Fatalf("session: %d, %v", code, err)
	}
	var body string
	brokertest.WaitFor(t, 20*time.Second, "the shipment in the metrics", func() bool {
		resp, err := http.Get("http://" + s.Metrics.Addr() + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, "tether_ship_sessions_shipped_total 1\n") && strings.Contains(body, "tether_ship_backlog_sessions 0\n")
	})
	for _, want := range []string{"tether_ship_output_bytes_total 8\n", "tether_ship_attempts_failed_total ", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
