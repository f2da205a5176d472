// Package policies holds Tether's shipped Rego authorization policy and the evaluator the broker asks for every decision.
package policies
