// Package attacks is Tether's adversarial suite: each test takes the keys one kind of
// principal legitimately holds (a user with no grant, an agent, an enrolling agent, a
// shipper, or several of them together), opens raw nats.go connections with them, tries
// one attack, and proves both that it fails and that its effect did not happen: streams and
// buckets as they were, other principals' subjects untouched, a logged refusal where the
// broker is the one refusing.
//
// The attacks are those that worked before principals had accounts of their own (see
// streams/accounts): answers steered with reply subjects onto the JetStream API, the
// buckets and other principals' subjects; an agent answering a user's message where the
// user pointed; a shipper making consumers; floods that starved other principals; agents
// choosing their frames' retention or writing into sessions not running on them. The
// package has no code of its own: it is tests only.
package attacks
