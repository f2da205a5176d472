package store

import (
	"fmt"
	"net"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Server-side encryption modes of S3Config.SSE.
const (
	SSENone = ""
	SSES3   = "sse-s3" // keys managed by the storage (its KMS); headers x-amz-server-side-encryption: AES256
	SSEC    = "sse-c"  // a key the shipper holds, sent with every request
)

// DefaultPartSize is the multipart part size when S3Config.PartSize is 0. Objects larger
// than the part size are uploaded in parts.
const DefaultPartSize = 16 << 20

// Part sizes S3 allows.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
)

// S3Config says where and how S3 stores objects.
type S3Config struct {
	// Endpoint is the server's host:port (or host), without a scheme:
	// "s3.eu-west-1.amazonaws.com", "minio.example:9000".
	Endpoint string
	// Region is the bucket's region; "" looks it up (us-east-1 for MinIO by default).
	Region string
	Bucket string
	// Prefix is a folder in the bucket every key goes under: key K is stored at
	// "Prefix/K". Leading and trailing slashes are ignored.
	Prefix string
	// AccessKey, SecretKey and SessionToken are static credentials. With AccessKey empty
	// the credentials come from the AWS environment variables (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), else from the shared credentials file
	// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or "default").
	AccessKey, SecretKey, SessionToken string
	// UseTLS speaks HTTPS to the endpoint.
	UseTLS bool
	// CAFile is a PEM file of CA certificates trusted besides the system's (with UseTLS).
	CAFile string
	// PathStyle addresses the bucket in the path (https://host/bucket/key), as MinIO and
	// most self-hosted servers want. False picks by endpoint: virtual-host style
	// (https://bucket.host/key) for AWS and other hosts known to support it, else path style.
	PathStyle bool
	// SSE is the server-side encryption of each object: SSENone (the bucket's default, if
	// any), SSES3 or SSEC.
	SSE string
	// SSECKey is the 32-byte key for SSEC. S3 accepts SSE-C only over TLS.
	SSECKey []byte
	// PartSize is the multipart part size, 5 MiB to 5 GiB; 0 means DefaultPartSize.
	PartSize uint64
}

// Validate reports the first bad field of c.
func (c *S3Config) Validate() error {
	switch {
	case c.Endpoint == "":
		return fmt.Errorf("s3 endpoint: required (host:port)")
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("s3 endpoint %q: give host:port without a scheme (useTLS chooses https)", c.Endpoint)
	case strings.ContainsAny(c.Endpoint, "/?#@ "):
		return fmt.Errorf("s3 endpoint %q: want host:port", c.Endpoint)
	}
	if strings.Contains(c.Endpoint, ":") {
		if _, port, err := net.SplitHostPort(c.Endpoint); err != nil || port == "" {
			return fmt.Errorf("s3 endpoint %q: want host:port", c.Endpoint)
		}
	}
	if c.Bucket == "" {
		return fmt.Errorf("s3 bucket: required")
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return fmt.Errorf("s3 bucket %q: %v", c.Bucket, err)
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := checkKey(p); err != nil {
			return fmt.Errorf("s3 prefix %q: %v", c.Prefix, err)
		}
	}
	switch {
	case c.AccessKey == "" && c.SecretKey != "":
		return fmt.Errorf("s3 accessKey: required with secretKey")
	case c.AccessKey != "" && c.SecretKey == "":
		return fmt.Errorf("s3 secretKey: required with accessKey")
	case c.AccessKey == "" && c.SessionToken != "":
		return fmt.Errorf("s3 sessionToken: needs accessKey and secretKey")
	}
	if c.CAFile != "" && !c.UseTLS {
		return fmt.Errorf("s3 caFile %s: needs useTLS", c.CAFile)
	}
	switch c.SSE {
	case SSENone, SSES3:
		if len(c.SSECKey) != 0 {
			return fmt.Errorf("s3 sseCKey: set but sse is %q, not %q", c.SSE, SSEC)
		}
	case SSEC:
		if len(c.SSECKey) != 32 {
			return fmt.Errorf("s3 sseCKey: %d bytes, want 32", len(c.SSECKey))
		}
		if !c.UseTLS {
			return fmt.Errorf("s3 sse %q: needs useTLS (S3 refuses SSE-C keys over plain HTTP)", c.SSE)
		}
	default:
		return fmt.Errorf("s3 sse %q: want %q, %q or %q", c.SSE, SSENone, SSES3, SSEC)
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxPartSize) {
		return fmt.Errorf("s3 partSize %d: want 5 MiB (%d) to 5 GiB (%d)", c.PartSize, minPartSize, maxPartSize)
	}
	return nil
}
