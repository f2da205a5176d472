// Package policies holds Tether's shipped Rego policy library and data, loads and compiles
// policy bundles, and decides each request against the bundle in force. Default deny: a
// request no rule allows is refused, and so is one the policy fails to evaluate.
//
//	*.rego, data.json  the shipped library (authz.rego decides; deny.rego, sessions.rego,
//	                   documents.rego, admin.rego, oncall.rego, tagged_targets.rego add
//	                   rules), each with its *_test.rego; README.md is the authors' guide
//	input.go           Input: what a decision sees (principal, action, session, target,
//	                   source_ip), built by the broker from the connection, never the body
//	evaluator.go       compiling a bundle into an Evaluator (New, Compile)
//	decision.go        Decision (allow, reasons, obligations) and Evaluator.Decide, one
//	                   request; items.go ForItems, a list's items with the principal's part
//	                   decided once (partial evaluation)
//	obligations.go     obligations a policy attaches (max_duration, idle_timeout, …)
//	bundle.go          loading a bundle; live.go holds the one in force and swaps it atomically
package policies
