package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/ship/store"
)

func newDir(t *testing.T) (*store.Dir, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "recordings")
	d, err := store.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return d, root
}

func TestDirDescribe(t *testing.T) {
	d, root := newDir(t)
	if got, want := d.Describe(), "dir:"+root; got != want {
		t.Fatalf("Describe() = %q, want %q", got, want)
	}
	if _, err := store.NewDir(""); err == nil {
		t.Fatal("NewDir(\"\") succeeded")
	}
}

func TestDirRoundTrip(t *testing.T) {
	d, _ := newDir(t)
	testRoundTrip(t, d)
}

func TestDirBadKeys(t *testing.T) {
	d, root := newDir(t)
	ctx := context.Background()
	for _, key := range badKeys {
		if err := d.Put(ctx, key, strings.NewReader("x"), 1, ship.PutOptions{}); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
		if _, err := d.Get(ctx, key); err == nil || errors.Is(err, ship.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want a refusal", key, err)
		}
	}
	// Nothing escaped the root, or landed in it.
	parent, err := os.ReadDir(filepath.Dir(root))
	if err != nil {
		t.Fatal(err)
	}
	if len(parent) != 1 {
		t.Errorf("root's parent holds %d entries, want only the root", len(parent))
	}
	if got := listAll(t, d, ""); len(got) != 0 {
		t.Errorf("List after refused Puts = %v, want nothing", got)
	}
	for _, prefix := range []string{"/etc", "../", "a/../", "a\\b", "a//b"} {
		if err := d.List(ctx, prefix, func(string, int64) error { return nil }); err == nil {
			t.Errorf("List(%q) succeeded", prefix)
		}
	}
}

// A writer killed mid-Put leaves its temp file: List and Get do not see it, and the
// object that was there before is intact.
func TestDirKilledWriter(t *testing.T) {
	d, root := newDir(t)
	ctx := context.Background()
	if err := d.Put(ctx, "s/a.cast", strings.NewReader("old"), 3, ship.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"s/.tmp-a.cast-123", ".tmp-b.cast-9", "s/.tmp-c.json-77"} {
		if err := os.WriteFile(filepath.Join(root, p), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := listAll(t, d, ""), []string{"s/a.cast=3"}; !equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	if got := get(t, d, "s/a.cast"); got != "old" {
		t.Fatalf("Get = %q, want %q", got, "old")
	}
}

// A Put whose body fails or whose context ends leaves no file, temp or final, and the
// object before it intact.
func TestDirFailedPut(t *testing.T) {
	d, root := newDir(t)
	if err := d.Put(context.Background(), "k", strings.NewReader("old"), 3, ship.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		r    io.Reader
		size int64
	}{
		{"reader error", context.Background(), io.MultiReader(strings.NewReader("new"), errReader{boom}), 10},
		{"short body", context.Background(), strings.NewReader("new"), 10},
		{"cancelled", ctx, &cancelAfter{r: bytes.NewReader(make([]byte, 1<<20)), n: 1000, cancel: cancel}, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.Put(tc.ctx, "k", tc.r, tc.size, ship.PutOptions{}); err == nil {
				t.Fatal("Put succeeded")
			}
			if got := get(t, d, "k"); got != "old" {
				t.Fatalf("Get = %q, want %q", got, "old")
			}
			entries, err := os.ReadDir(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Fatalf("root holds %d entries, want 1 (no temp file left)", len(entries))
			}
		})
	}
}

func TestDirListOrder(t *testing.T) {
	d, _ := newDir(t)
	ctx := context.Background()
	// "a/x" sorts after "a-b" and "a.cast" as keys, though the directory "a" sorts first
	// as a name.
	keys := []string{"a/x", "a-b", "a.cast", "a/y/z", "b", "a0"}
	for _, k := range keys {
		if err := d.Put(ctx, k, strings.NewReader(k), int64(len(k)), ship.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-b=3", "a.cast=6", "a/x=3", "a/y/z=5", "a0=2", "b=1"}},
		{"a/", []string{"a/x=3", "a/y/z=5"}},
		{"a/y", []string{"a/y/z=5"}},
		{"a", []string{"a-b=3", "a.cast=6", "a/x=3", "a/y/z=5", "a0=2"}},
		{"c", nil},
	} {
		if got := listAll(t, d, tc.prefix); !equal(got, tc.want) {
			t.Errorf("List(%q) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
}

// A path that cannot become a directory fails the Put.
func TestDirPutUnderFile(t *testing.T) {
	d, _ := newDir(t)
	ctx := context.Background()
	if err := d.Put(ctx, "f", strings.NewReader("x"), 1, ship.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "f/g", strings.NewReader("x"), 1, ship.PutOptions{}); err == nil {
		t.Fatal("Put under a file succeeded")
	}
	if _, err := d.Get(ctx, "f/g"); !errors.Is(err, ship.ErrNotFound) {
		t.Fatalf("Get(f/g) error = %v, want ErrNotFound", err)
	}
}
