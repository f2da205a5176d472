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
	// Get opens the object at key; the error wraps ErrNotFound when there is none.
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
