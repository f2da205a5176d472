package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/streams/wire/api"
)

// RegisterTranscripts registers the transcript stream's capacity on reg, as read reports
// it at each scrape (the control plane's last reading, a few seconds old at most).
func RegisterTranscripts(reg prometheus.Registerer, read func() api.TranscriptCapacity) error {
	gauge := func(name, help string, v func(api.TranscriptCapacity) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(read()) })
	}
	counter := func(name, help string, v func(api.TranscriptCapacity) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(read()) })
	}
	for _, c := range []prometheus.Collector{
		gauge("tether_transcripts_bytes", "Bytes the transcript stream holds.",
			func(c api.TranscriptCapacity) float64 { return float64(c.Bytes) }),
		gauge("tether_transcripts_max_bytes", "The transcript stream's byte limit (-1: none).",
			func(c api.TranscriptCapacity) float64 { return float64(c.MaxBytes) }),
		gauge("tether_transcripts_messages", "Frames the transcript stream holds.",
			func(c api.TranscriptCapacity) float64 { return float64(c.Messages) }),
		gauge("tether_transcripts_max_messages", "The transcript stream's message limit (-1: none).",
			func(c api.TranscriptCapacity) float64 { return float64(c.MaxMessages) }),
		gauge("tether_transcripts_used_ratio", "Share of the transcript stream's nearest limit in use (0-1).",
			func(c api.TranscriptCapacity) float64 { return c.Percent / 100 }),
		gauge("tether_transcripts_full", "1 while the transcript stream has less than the reserve free and no session starts.",
			func(c api.TranscriptCapacity) float64 {
				if c.State == api.CapacityFull {
					return 1
				}
				return 0
			}),
		counter("tether_sessions_refused_transcripts_full_total", "Sessions refused because the transcript stream was full.",
			func(c api.TranscriptCapacity) float64 { return float64(c.RefusedStarts) }),
		counter("tether_transcripts_shipped_purged_total", "Shipped sessions removed from the transcript stream after their grace period.",
			func(c api.TranscriptCapacity) float64 { return float64(c.ShippedPurged) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
