package ship

import (
	"context"
	"errors"
	"io"
)

// Uploader is where recordings go: a local directory or an S3-compatible bucket
// (streams/ship/store).
type Uploader interface {
	// Put stores size bytes read from r under key. The object becomes visible only when
	// complete: a failed or interrupted Put leaves no object under key (or the one that
	// was there before). Putting the same bytes again under the same key is harmless.
	Put(ctx context.Context, key string, r io.Reader, size int64, o PutOptions) error
	// Get opens the object at key; the error wraps ErrNotFound when there is none. The
	// reader may also be an io.Seeker (both backends' are), to read from an offset.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// List calls fn for every key under prefix, in lexical order, until fn returns an error.
	List(ctx context.Context, prefix string, fn func(key string, size int64) error) error
	// Describe names the backend for status and logs: "dir:/var/lib/tether/recordings" or
	// "s3://minio.example:9000/recordings".
	Describe() string
}

// PutOptions qualify one Put.
type PutOptions struct {
	ContentType string
}

// ErrNotFound is wrapped by Get's error for a key that has no object.
var ErrNotFound = errors.New("ship: no such object")

// EncryptionChecker is implemented by backends that can tell whether their bucket
// encrypts objects by default (SSE-S3/KMS bucket encryption). With s3EncryptionEnabled the
// shipper refuses to upload to a backend that cannot say yes, as SSM does.
type EncryptionChecker interface {
	CheckBucketEncryption(ctx context.Context) error
}

// StreamUploader is implemented by backends that take an object in parts while it is
// still being written (S3 multipart uploads, a growing temp file): the object appears only
// when committed, so a recording streamed while its session runs never looks complete
// before it is.
type StreamUploader interface {
	Begin(ctx context.Context, key string, o PutOptions) (PartWriter, error)
}

// PartWriter is an object being uploaded in parts. Write buffers and sends a part each time
// one is full; Commit sends the rest and makes the object appear; Abort drops it all.
type PartWriter interface {
	io.Writer
	Commit(ctx context.Context) error
	Abort(ctx context.Context) error
	// Sent is how many bytes have reached storage so far.
	Sent() int64
}
