// Package jsdef defines Tether's JetStream streams and KV buckets and creates or updates
// them in one call.
package jsdef
