// Package config is the broker's configuration: defaults, strict loading, validation.
package config
