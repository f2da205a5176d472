package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/tetherhq/tether/streams/ship"
)

// S3 stores objects in a bucket of an S3-compatible server. An object appears only when
// its upload completes: a single PUT for objects up to the part size, a multipart upload
// (aborted on failure) for larger ones.
type S3 struct {
	client   *minio.Client
	endpoint string
	bucket   string
	prefix   string             // "" or "folder/"
	putSSE   encrypt.ServerSide // nil, SSE-S3 or SSE-C
	getSSE   encrypt.ServerSide // SSE-C only: S3 wants no SSE-S3 header on reads
	partSize uint64
}

var (
	_ ship.Uploader          = (*S3)(nil)
	_ ship.EncryptionChecker = (*S3)(nil)
)

// NewS3 validates cfg, connects and checks that the bucket exists (so wrong credentials,
// endpoint or bucket name fail here rather than at the first upload).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr, err := minio.DefaultTransport(cfg.UseTLS)
	if err != nil {
		return nil, fmt.Errorf("s3 transport: %w", err)
	}
	if cfg.CAFile != "" {
		roots, err := loadRoots(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
		})
		v, err := creds.GetWithContext(&credentials.CredContext{Client: &http.Client{Transport: tr}})
		if err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
			return nil, errors.New("s3 credentials: none configured; set accessKey and secretKey, " +
				"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials")
		}
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       cfg.UseTLS,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	s := &S3{
		client: client, endpoint: cfg.Endpoint, bucket: cfg.Bucket,
		partSize: cfg.PartSize,
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		s.prefix = p + "/"
	}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	switch cfg.SSE {
	case SSES3:
		s.putSSE = encrypt.NewSSE()
	case SSEC:
		sse, err := encrypt.NewSSEC(cfg.SSECKey)
		if err != nil {
			return nil, fmt.Errorf("s3 sseCKey: %w", err)
		}
		s.putSSE, s.getSSE = sse, sse
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, s.convert("check bucket", err)
	}
	if !ok {
		return nil, fmt.Errorf("s3 bucket %s at %s does not exist", cfg.Bucket, cfg.Endpoint)
	}
	return s, nil
}

// Describe is "s3://endpoint/bucket" and the prefix, if any.
func (s *S3) Describe() string {
	return "s3://" + s.endpoint + "/" + s.bucket + strings.TrimSuffix("/"+s.prefix, "/")
}

// Put uploads size bytes of r (all of r, when size is negative, at the cost of buffering a
// part at a time) to key.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, o ship.PutOptions) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		ContentType:          o.ContentType,
		ServerSideEncryption: s.putSSE,
		PartSize:             s.partSize,
	})
	if err != nil {
		return s.convert("put "+key, err)
	}
	return nil
}

// Get opens the object at key. The reader reads under ctx.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{ServerSideEncryption: s.getSSE})
	if err != nil {
		return nil, s.convert("get "+key, err)
	}
	// GetObject is lazy: Stat sends the request, so that a missing key fails here.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.convert("get "+key, err)
	}
	return objectReader{obj, s, key}, nil
}

// List calls fn for every object whose key begins with prefix, in lexical order.
func (s *S3) List(ctx context.Context, prefix string, fn func(key string, size int64) error) error {
	if err := checkPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn ends the walk early
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return s.convert("list "+prefix, obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || checkKey(key) != nil {
			continue // not one of ours
		}
		if err := fn(key, obj.Size); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	return nil
}

// CheckBucketEncryption returns nil when the bucket has a default encryption
// configuration (SSE-S3 or SSE-KMS), so objects are encrypted however they are put.
func (s *S3) CheckBucketEncryption(ctx context.Context) error {
	cfg, err := s.client.GetBucketEncryption(ctx, s.bucket)
	if err != nil && minio.ToErrorResponse(err).Code != "ServerSideEncryptionConfigurationNotFoundError" {
		return s.convert("check encryption of bucket "+s.bucket, err)
	}
	if err != nil || cfg == nil || len(cfg.Rules) == 0 {
		return fmt.Errorf("bucket %s has no default encryption; s3EncryptionEnabled requires it "+
			"(set one with mc encrypt set sse-s3 ALIAS/%s)", s.bucket, s.bucket)
	}
	return nil
}

// convert turns a minio-go error into this package's: NoSuchKey wraps ship.ErrNotFound,
// other S3 errors keep their code and message, and transport and context errors are
// wrapped as they are.
func (s *S3) convert(op string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchKey:
		return fmt.Errorf("%s: %w", op, ship.ErrNotFound)
	case resp.Code == minio.NoSuchBucket:
		return fmt.Errorf("%s: s3 bucket %s at %s does not exist", op, s.bucket, s.endpoint)
	case resp.Code != "":
		return fmt.Errorf("%s: s3 %s: %s", op, resp.Code, resp.Message)
	case resp.StatusCode != 0:
		return fmt.Errorf("%s: s3 status %d", op, resp.StatusCode)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// objectReader converts the errors of a minio.Object's reads.
type objectReader struct {
	obj *minio.Object
	s   *S3
	key string
}

// Seek moves within the object; reading then fetches from there (a ranged GET).
func (r objectReader) Seek(offset int64, whence int) (int64, error) {
	n, err := r.obj.Seek(offset, whence)
	if err != nil {
		err = r.s.convert("seek "+r.key, err)
	}
	return n, err
}

func (r objectReader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && err != io.EOF {
		err = r.s.convert("read "+r.key, err)
	}
	return n, err
}

func (r objectReader) Close() error { return r.obj.Close() }

// loadRoots is the system's CA pool plus the certificates in file.
func loadRoots(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("s3 caFile: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("s3 caFile %s: no PEM certificates", file)
	}
	return roots, nil
}
