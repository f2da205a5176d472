package transcript

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/frame"
)

// jetStream is a real JetStream server with the broker's streams and buckets.
func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsdef.Ensure(t.Context(), js, jsdef.Limits{}); err != nil {
		t.Fatal(err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream, m *nats.Msg) uint64 {
	t.Helper()
	ack, err := js.PublishMsg(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// publishFrame stores an output frame numbered seq on subject.
func publishFrame(t *testing.T, js jetstream.JetStream, subject string, seq uint64, payload string) uint64 {
	t.Helper()
	return publish(t, js, &nats.Msg{Subject: subject, Data: frame.Encode(frame.Frame{Type: frame.Stdout, Seq: seq, Payload: []byte(payload)})})
}

// seqs lists the frames' sequence numbers.
func seqs(fs []Frame) []uint64 {
	out := make([]uint64, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Seq)
	}
	return out
}

func natsMsg(subject string, data []byte) *nats.Msg { return &nats.Msg{Subject: subject, Data: data} }
