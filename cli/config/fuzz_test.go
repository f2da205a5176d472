package config

import "testing"

func FuzzConfig(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"broker_url": "nats://h:1,tls://g:2", "user": "a", "nkey_seed_file": "/k"}`))
	f.Add([]byte(`{"broker_url": "nats://h:1"} {}`))
	f.Add([]byte(`{"x": 1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if c.Validate() != nil {
			return
		}
		// A valid config survives encoding and decoding unchanged.
		path := t.TempDir() + "/c.json"
		if err := Write(path, c); err != nil {
			t.Fatalf("Write of a valid config: %v", err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatalf("Load of a written config: %v", err)
		}
		if got.BrokerURL != c.BrokerURL || got.User != c.User || got.NKeySeedFile != c.NKeySeedFile {
			t.Fatalf("round trip: got %+v, want %+v", got, c)
		}
	})
}
