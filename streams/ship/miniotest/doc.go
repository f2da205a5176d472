// Package miniotest runs a real MinIO server process for tests of the S3 backend, bound to
// a test and stopped by t.Cleanup, like httptest.NewServer.
package miniotest
