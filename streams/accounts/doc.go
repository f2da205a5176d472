// Package accounts is Tether's NATS account layout: which account each kind of principal
// lives in, what that account imports from the service account, and what each connection
// may publish and subscribe to.
//
// The service account (Service) holds the control plane, JetStream with every stream and
// bucket, and the in-process workers. Every principal lives in an account of its own,
// named after its kind and name (U_alice, A_web-1, E_<enrolling key>, S_ship1), which imports
// only the part of the service account's exports it needs, scoped to its name. So:
//
//   - "$JS.API.>", "$KV.>" and the streams do not exist for a principal: its account has
//     no JetStream, and imports only the few JetStream subjects a shipper needs.
//   - A request crosses into the service account through a service import, which gives it
//     a reply subject the server made ("_R_.…"); the answer goes back to the caller's own
//     account, and nowhere else, whatever reply subject the caller asked for.
//   - The server tells the control plane which account a request came from (the
//     Nats-Request-Info header it writes itself): the principal's identity.
//   - A caller cannot aim an answer at another principal: another principal's inbox,
//     sessions and API are in another account.
//   - A session's data that is not recorded (input, the agent's frames for its client)
//     goes straight between the owner's account and the agent's, by stream imports made
//     for their first session together (SessionData), with no copy on the way.
//
// The same layout is what an auth-callout responder hands out as JWTs (an account JWT per
// principal with these imports and limits, a user JWT with these permissions), so that a
// broker attached to an existing NATS deployment uses it unchanged. The project README's
// "Security model" section has the table of every kind.
package accounts
