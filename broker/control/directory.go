package control

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
)

// revoke cuts the live connections of a key that no longer belongs to anyone.
func (s *Service) revoke(nkey string) {
	if nkey != "" {
		s.cfg.Revoke(nkey)
	}
}

// loadDirectory fills the auth hook's index from the buckets.
func (s *Service) loadDirectory(ctx context.Context) error {
	users, err := listJSON[api.User](ctx, s.b.Users)
	if err != nil {
		return err
	}
	for _, u := range users {
		s.dir.PutUser(u)
	}
	insts, err := listJSON[storedInstance](ctx, s.b.Instances)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if in.NKey != "" {
			s.dir.PutAgent(in.NKey, in.ID)
		}
	}
	acts, err := listJSON[storedActivation](ctx, s.b.Activations)
	if err != nil {
		return err
	}
	for _, a := range acts {
		s.dir.PutActivation(a.gate())
	}
	return nil
}

// watchDirectory follows changes other brokers make to users, instances and activations.
func (s *Service) watchDirectory() {
	watch := func(kv jetstream.KeyValue, put func([]byte), del func(key string)) {
		w, err := kv.WatchAll(s.ctx, jetstream.UpdatesOnly())
		if err != nil {
			s.log.Error("watch bucket", logkey.Bucket, kv.Bucket(), logkey.Err, err)
			return
		}
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-s.ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				if e.Operation() == jetstream.KeyValuePut {
					put(e.Value())
				} else {
					del(e.Key())
				}
			}
		}
	}
	done := make(chan struct{}, 3)
	go func() {
		defer func() { done <- struct{}{} }()
		watch(s.b.Users, func(b []byte) {
			if u, err := unmarshal[api.User](b); err == nil {
				s.dir.PutUser(u)
			}
		}, func(name string) { s.revoke(s.dir.RemoveUser(name)) })
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		watch(s.b.Instances, func(b []byte) {
			if in, err := unmarshal[storedInstance](b); err == nil && in.NKey != "" {
				s.dir.PutAgent(in.NKey, in.ID)
			}
		}, func(id string) { s.revoke(s.dir.RemoveAgent(id)) })
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		watch(s.b.Activations, func(b []byte) {
			if a, err := unmarshal[storedActivation](b); err == nil {
				s.dir.PutActivation(a.gate())
			}
		}, s.dir.RemoveActivation)
	}()
	for range 3 {
		<-done
	}
}

func unmarshal[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}
