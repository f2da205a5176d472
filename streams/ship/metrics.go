package ship

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/streams/jsdef"
)

// Metrics count what shippers do, for Prometheus.
type Metrics struct {
	shipped, failed prometheus.Counter
	bytes           prometheus.Counter
	lastSuccess     prometheus.Gauge
}

// NewMetrics registers the shipping metrics on reg: counters of this process's shippers,
// and the shared consumer's backlog, read from the stream at each scrape.
func NewMetrics(reg prometheus.Registerer, js jetstream.StreamConsumerManager) (*Metrics, error) {
	m := &Metrics{
		shipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tether_ship_sessions_shipped_total", Help: "Session recordings stored (cast, log and metadata).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tether_ship_attempts_failed_total", Help: "Attempts to ship a recording that failed and will be retried.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tether_ship_output_bytes_total", Help: "Session output bytes shipped.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tether_ship_last_success_timestamp_seconds", Help: "When a recording was last shipped.",
		}),
	}
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tether_ship_backlog_sessions", Help: "Ended sessions whose recordings are not shipped yet (waiting or being shipped).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, jsdef.StreamEvents, ConsumerName)
		if err != nil {
			return -1
		}
		info, err := c.Info(ctx)
		if err != nil {
			return -1
		}
		return float64(info.NumPending) + float64(info.NumAckPending)
	})
	for _, c := range []prometheus.Collector{m.shipped, m.failed, m.bytes, m.lastSuccess, backlog} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) shippedOne(bytes int64, at time.Time) {
	if m == nil {
		return
	}
	// The count last: a scrape that sees the session shipped sees its bytes too.
	m.bytes.Add(float64(bytes))
	m.lastSuccess.Set(float64(at.Unix()))
	m.shipped.Inc()
}

func (m *Metrics) failedOne() {
	if m != nil {
		m.failed.Inc()
	}
}
