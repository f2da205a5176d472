// Package events publishes session lifecycle events as CloudEvents 1.0 JSON into the
// events stream.
package events
