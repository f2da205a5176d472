package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minio/minio-go/v7"

	"github.com/tetherhq/tether/streams/ship"
)

var (
	_ ship.StreamUploader = (*Dir)(nil)
	_ ship.StreamUploader = (*S3)(nil)
)

// Begin starts key as a temp file beside where it will be; Commit renames it into place.
func (d *Dir) Begin(ctx context.Context, key string, _ ship.PutOptions) (ship.PartWriter, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	dst := filepath.Join(d.root, filepath.FromSlash(key))
	if err := d.mkdirAll(filepath.Dir(dst)); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), tempPrefix+filepath.Base(dst)+"-*")
	if err != nil {
		return nil, fmt.Errorf("begin %s: %w", key, err)
	}
	return &dirPart{d: d, f: f, dst: dst}, nil
}

type dirPart struct {
	d    *Dir
	f    *os.File
	dst  string
	sent int64
}

func (p *dirPart) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.sent += int64(n)
	return n, err
}

func (p *dirPart) Sent() int64 { return p.sent }

func (p *dirPart) Commit(context.Context) error {
	if err := p.f.Sync(); err != nil {
		p.Abort(context.Background())
		return err
	}
	if err := p.f.Close(); err != nil {
		os.Remove(p.f.Name())
		return err
	}
	if err := os.Rename(p.f.Name(), p.dst); err != nil {
		os.Remove(p.f.Name())
		return err
	}
	return syncDir(filepath.Dir(p.dst))
}

func (p *dirPart) Abort(context.Context) error {
	p.f.Close()
	return os.Remove(p.f.Name())
}

// Begin starts a multipart upload of key: each full part goes up as it is written, and
// the object appears only on Commit (CompleteMultipartUpload); Abort aborts the upload.
func (s *S3) Begin(ctx context.Context, key string, o ship.PutOptions) (ship.PartWriter, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	core := minio.Core{Client: s.client}
	id, err := core.NewMultipartUpload(ctx, s.bucket, s.prefix+key, minio.PutObjectOptions{
		ContentType: o.ContentType, ServerSideEncryption: s.putSSE,
	})
	if err != nil {
		return nil, s.convert("begin "+key, err)
	}
	return &s3Part{s: s, core: core, ctx: ctx, key: key, id: id}, nil
}

type s3Part struct {
	s     *S3
	core  minio.Core
	ctx   context.Context
	key   string
	id    string
	buf   bytes.Buffer
	parts []minio.CompletePart
	sent  int64
}

func (p *s3Part) Write(b []byte) (int, error) {
	p.buf.Write(b)
	for uint64(p.buf.Len()) >= p.s.partSize {
		if err := p.upload(p.ctx, int(p.s.partSize)); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// upload sends the first n buffered bytes as the next part.
func (p *s3Part) upload(ctx context.Context, n int) error {
	data := p.buf.Next(n)
	num := len(p.parts) + 1
	part, err := p.core.PutObjectPart(ctx, p.s.bucket, p.s.prefix+p.key, p.id, num, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectPartOptions{SSE: p.s.getSSE})
	if err != nil {
		return p.s.convert(fmt.Sprintf("upload part %d of %s", num, p.key), err)
	}
	p.parts = append(p.parts, minio.CompletePart{PartNumber: num, ETag: part.ETag})
	p.sent += int64(len(data))
	return nil
}

func (p *s3Part) Sent() int64 { return p.sent }

func (p *s3Part) Commit(ctx context.Context) error {
	if p.buf.Len() > 0 || len(p.parts) == 0 {
		if err := p.upload(ctx, p.buf.Len()); err != nil {
			p.Abort(ctx)
			return err
		}
	}
	if _, err := p.core.CompleteMultipartUpload(ctx, p.s.bucket, p.s.prefix+p.key, p.id, p.parts, minio.PutObjectOptions{ServerSideEncryption: p.s.getSSE}); err != nil {
		p.Abort(ctx)
		return p.s.convert("complete "+p.key, err)
	}
	return nil
}

func (p *s3Part) Abort(ctx context.Context) error {
	if err := p.core.AbortMultipartUpload(context.WithoutCancel(ctx), p.s.bucket, p.s.prefix+p.key, p.id); err != nil {
		return p.s.convert("abort "+p.key, err)
	}
	return nil
}
