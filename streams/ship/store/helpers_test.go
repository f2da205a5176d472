package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/tetherhq/tether/streams/ship"
)

// badKeys are refused by every backend.
var badKeys = []string{
	"", "/abs", "..", "a/../b", "a/..", "./a", "a/./b", "a//b", "a/", "a\\b", "a\x00b",
	".tmp-x", "s/.tmp-a.cast-1",
}

// testRoundTrip is what every Uploader does: put, get, overwrite, list, not found.
func testRoundTrip(t *testing.T, u ship.Uploader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put := func(key, body string) {
		t.Helper()
		if err := u.Put(ctx, key, strings.NewReader(body), int64(len(body)), ship.PutOptions{ContentType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
	}
	put("sess-1/sess-1.cast", "cast one")
	put("sess-1/sess-1.json", "{}")
	put("sess-2.log", "log two")
	put("sess-1/sess-1.cast", "cast one, again") // overwriting is harmless
	if got, want := get(t, u, "sess-1/sess-1.cast"), "cast one, again"; got != want {
		t.Errorf("Get = %q, want %q", got, want)
	}
	if got, want := listAll(t, u, ""), []string{"sess-1/sess-1.cast=15", "sess-1/sess-1.json=2", "sess-2.log=7"}; !equal(got, want) {
		t.Errorf("List(\"\") = %v, want %v", got, want)
	}
	if got, want := listAll(t, u, "sess-1/"), []string{"sess-1/sess-1.cast=15", "sess-1/sess-1.json=2"}; !equal(got, want) {
		t.Errorf("List(sess-1/) = %v, want %v", got, want)
	}
	if got, want := listAll(t, u, "sess-2"), []string{"sess-2.log=7"}; !equal(got, want) {
		t.Errorf("List(sess-2) = %v, want %v", got, want)
	}
	if _, err := u.Get(ctx, "sess-3.cast"); !errors.Is(err, ship.ErrNotFound) {
		t.Errorf("Get(missing) error = %v, want ErrNotFound", err)
	}
	stop := errors.New("stop")
	var n int
	err := u.List(ctx, "", func(string, int64) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("List stopped by fn: err %v after %d calls, want %v after 1", err, n, stop)
	}
	if err := u.Put(ctx, "empty", strings.NewReader(""), 0, ship.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, u, "empty"); got != "" {
		t.Errorf("Get(empty) = %q", got)
	}
}

func get(t *testing.T, u ship.Uploader, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := u.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listAll lists "key=size" in the order List gave.
func listAll(t *testing.T, u ship.Uploader, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	if err := u.List(ctx, prefix, func(key string, size int64) error {
		got = append(got, fmt.Sprintf("%s=%d", key, size))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func equal(a, b []string) bool { return slices.Equal(a, b) }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// cancelAfter reads r, calling cancel once n bytes have been read. It is not an
// io.ReaderAt or io.Seeker, so an uploader must stream it.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc

	mu   sync.Mutex
	read int64
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.read += int64(n)
	if c.read >= c.n {
		c.cancel()
	}
	c.mu.Unlock()
	return n, err
}

func mustSSEC(t *testing.T, key []byte) encrypt.ServerSide {
	t.Helper()
	s, err := encrypt.NewSSEC(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
