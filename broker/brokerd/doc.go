// Package brokerd assembles one broker process: the embedded NATS server with its auth hook, the
// JetStream streams and buckets, the policy evaluator and the control plane, started and
// stopped as a unit.
package brokerd
