// Package store holds the shipper's backends: a local directory (Dir) and an
// S3-compatible bucket (S3), both ship.Uploaders.
package store
