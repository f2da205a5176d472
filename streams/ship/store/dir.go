package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/tetherhq/tether/streams/ship"
)

// Dir stores objects as files under a local directory. A Put writes a temp file beside
// its target (named with tempPrefix), fsyncs it, renames it into place and fsyncs the
// directory, so a reader never sees a partial file under a key, even after a crash.
type Dir struct {
	root string
}

var _ ship.Uploader = (*Dir)(nil)

// NewDir returns a Dir rooted at root, creating the directory if need be.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("recordings directory: empty path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("recordings directory %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("create recordings directory: %w", err)
	}
	return &Dir{root: abs}, nil
}

// Describe is "dir:" and the absolute root.
func (d *Dir) Describe() string { return "dir:" + d.root }

// Put stores size bytes of r (all of r when size is negative) in the file for key.
// PutOptions are not recorded.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, _ ship.PutOptions) (err error) {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	dst := filepath.Join(d.root, filepath.FromSlash(key))
	dir := filepath.Dir(dst)
	if err := d.mkdirAll(dir); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(dst)+"-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close() // a second Close only errs
			_ = os.Remove(tmp)
		}
	}()
	src := ctxReader{ctx, r}
	if size >= 0 {
		n, err := io.CopyN(f, src, size)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("put %s: body ended after %d of %d bytes", key, n, size)
		}
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	} else if _, err := io.Copy(f, src); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get opens the file for key.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(filepath.Join(d.root, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("get %s: %w", key, ship.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("get %s: %w", key, ship.ErrNotFound)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// List calls fn for the files under the root whose keys begin with prefix, in lexical
// order of their keys, skipping temp files of unfinished Puts.
func (d *Dir) List(ctx context.Context, prefix string, fn func(key string, size int64) error) error {
	if err := checkPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := d.walk(ctx, d.root, "", prefix, fn); err != nil {
		return err // fn's error as it is; walk's own are wrapped
	}
	return nil
}

// walk lists dir, whose key prefix is rel ("" or ending in "/"). Entries are visited in the
// order of their keys: a directory "a" sorts as "a/", after "a-b" and "a.cast", as S3
// lists "a/x" after them.
func (d *Dir) walk(ctx context.Context, dir, rel, prefix string, fn func(string, int64) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if rel != "" && errors.Is(err, fs.ErrNotExist) {
			return nil // removed while listing
		}
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	sortKey := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return cmp.Compare(sortKey(a), sortKey(b)) })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		key := rel + sortKey(e)
		switch {
		case e.IsDir():
			if strings.HasPrefix(key, prefix) || strings.HasPrefix(prefix, key) {
				if err := d.walk(ctx, filepath.Join(dir, e.Name()), key, prefix, fn); err != nil {
					return err
				}
			}
		case e.Type().IsRegular():
			if !strings.HasPrefix(key, prefix) || checkKey(key) != nil {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("list %s: %w", prefix, err)
			}
			if err := fn(key, fi.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// mkdirAll creates dir and its parents up to the root, fsyncing the parent of each
// directory it creates so that the new path survives a crash.
func (d *Dir) mkdirAll(dir string) error {
	rel, err := filepath.Rel(d.root, dir)
	if err != nil || rel == "." {
		return err
	}
	cur := d.root
	for seg := range strings.SplitSeq(rel, string(filepath.Separator)) {
		parent := cur
		cur = filepath.Join(cur, seg)
		err := os.Mkdir(cur, 0o750)
		switch {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			fi, err := os.Stat(cur)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", cur)
			}
		default:
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return f.Close()
}

// ctxReader fails reads once ctx is done, so a cancelled Put stops copying.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
