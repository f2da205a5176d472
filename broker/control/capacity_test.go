package control

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/wire/api"
)

func TestMeasureCapacity(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name         string
		bytes, msgs  uint64
		maxB, maxM   int64
		reserve      int64
		state        string
		percent      float64
		wantMaxBytes int64
	}{
		{"empty", 0, 0, 100 * mb, -1, 10 * mb, api.CapacityOK, 0, 100 * mb},
		{"below the high-water mark", 79 * mb, 10, 100 * mb, -1, 10 * mb, api.CapacityOK, 79, 100 * mb},
		{"past the high-water mark", 80 * mb, 10, 100 * mb, -1, 10 * mb, api.CapacityWarning, 80, 100 * mb},
		{"less than the reserve free", 91 * mb, 10, 100 * mb, -1, 10 * mb, api.CapacityFull, 91, 100 * mb},
		{"exactly the reserve free", 90 * mb, 10, 100 * mb, -1, 10 * mb, api.CapacityFull, 90, 100 * mb},
		{"no byte limit", 900 * mb, 10, -1, -1, 10 * mb, api.CapacityOK, 0, -1},
		{"message limit nearer", 1 * mb, 85, 100 * mb, 100, 10 * mb, api.CapacityWarning, 85, 100 * mb},
		{"message limit reached", 1 * mb, 95, 100 * mb, 100, 10 * mb, api.CapacityFull, 95, 100 * mb},
		{"no reserve: full only at the limit", 99 * mb, 10, 100 * mb, -1, 0, api.CapacityWarning, 99, 100 * mb},
	} {
		got := measure(jetstream.StreamState{Bytes: tc.bytes, Msgs: tc.msgs}, jetstream.StreamConfig{MaxBytes: tc.maxB, MaxMsgs: tc.maxM}, tc.reserve)
		if got.State != tc.state || int(got.Percent) != int(tc.percent) || got.MaxBytes != tc.wantMaxBytes {
			t.Errorf("%s: state %s, %.1f%%, max %d; want %s, %.0f%%, max %d", tc.name, got.State, got.Percent, got.MaxBytes, tc.state, tc.percent, tc.wantMaxBytes)
		}
	}
}
