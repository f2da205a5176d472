// Package config loads, validates and writes the tether client configuration and opens the
// authenticated NATS connection it describes.
package config
