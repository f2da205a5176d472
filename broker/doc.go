// Package broker is the map of tether-broker: the embedded NATS server, the control plane
// and the workers, assembled into one process.
//
//	cmd/tether-broker  main
//	brokercmd          flags, config, signals; the subcommands run, dev and ship
//	config             the broker's configuration file: defaults, strict loading, validation
//	brokerd            assembles one broker process from the parts below, and stops it
//	natsembed          the embedded NATS server and its auth hook (NKEY → principal → account)
//	principals         who may connect: users, agents, activations, the broker's own keys
//	control            the control plane: every API verb, declared with its authorization,
//	                   answered by a dispatcher that takes identity from the connection
//	session            the session state machine
//	document           SSM-compatible session documents, parameters substituted injection-proof
//	callout            the account layout as operator-mode JWTs, for an external NATS
//	metrics            /metrics
//	logsample          rate-limited logging of floods
//	brokertest         a real in-process broker for tests
//	attacks            the adversarial suite: each principal's keys, raw nats.go, every attack
//
// Where a decision is made: a request reaches the dispatcher (control/dispatch.go), which
// finds the caller from the server's Nats-Request-Info; control/endpoints.go lists which
// file declares each verb (sessions.go, instances.go, documents.go, policy.go,
// recordings.go, users.go, activations.go, agents.go), with its handlers next to it. A
// policy verb (policyVerb, control/endpoint.go) decodes the request, lets the verb's
// prepare function build the policies.Input from what it names (the session, target,
// document), then Service.decide (control/authz.go) adds the caller from the connection,
// asks the policy in force (policies) and audits the answer: default deny. List verbs ask
// once per request and filter their items with the rest (policies.Evaluator.ForItems).
package broker
