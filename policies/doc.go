// Package policies holds Tether's shipped Rego policy library and data, loads and compiles
// policy bundles, and decides each request against the bundle in force.
package policies
