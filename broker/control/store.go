package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// errNotFound is returned by getJSON for a missing or deleted key.
var errNotFound = errors.New("not found")

func getJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (T, uint64, error) {
	var v T
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return v, 0, errNotFound
	}
	if err != nil {
		return v, 0, fmt.Errorf("read %s/%s: %w", kv.Bucket(), key, err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, fmt.Errorf("decode %s/%s: %w", kv.Bucket(), key, err)
	}
	return v, e.Revision(), nil
}

func putJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", kv.Bucket(), key, err)
	}
	if _, err := kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write %s/%s: %w", kv.Bucket(), key, err)
	}
	return nil
}

func createJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", kv.Bucket(), key, err)
	}
	if _, err := kv.Create(ctx, key, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
		return fmt.Errorf("create %s/%s: %w", kv.Bucket(), key, err)
	}
	return nil
}

// updateJSON applies fn to the stored value with optimistic concurrency, retrying on
// conflicting writes. fn may return errSkip to leave the value unchanged.
func updateJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string, fn func(*T) error) (T, error) {
	for attempt := 0; ; attempt++ {
		v, rev, err := getJSON[T](ctx, kv, key)
		if err != nil {
			return v, err
		}
		if err := fn(&v); err != nil {
			return v, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return v, fmt.Errorf("encode %s/%s: %w", kv.Bucket(), key, err)
		}
		if _, err = kv.Update(ctx, key, b, rev); err == nil {
			return v, nil
		}
		if attempt >= 20 || !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSeq(err) {
			return v, fmt.Errorf("update %s/%s: %w", kv.Bucket(), key, err)
		}
	}
}

func isWrongSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func listKeys(ctx context.Context, kv jetstream.KeyValue) ([]string, error) {
	lister, err := kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kv.Bucket(), err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

func listJSON[T any](ctx context.Context, kv jetstream.KeyValue) ([]T, error) {
	keys, err := listKeys(ctx, kv)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		v, _, err := getJSON[T](ctx, kv, k)
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
