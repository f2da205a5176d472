// Package callout expresses Tether's account layout (streams/accounts) as NATS
// operator-mode JWTs, and answers auth-callout requests with them, so that a broker
// attached to an existing NATS deployment confines principals exactly as the embedded one.
//
// The deployment: an operator (Keys.Operator) signs every account; a full resolver holds
// their JWTs, pushed by a system account user on $SYS.REQ.CLAIMS.UPDATE (SystemPusher). The
// auth account has external authorization (its auth user: the callout service's; allowed
// accounts: the service account and every principal's; an XKey to encrypt requests). The
// servers' default sentinel (SentinelJWT: a bearer user of the auth account that may do
// nothing) sends every client with a plain NKEY to the callout with its key, its signature
// and the server's nonce; the Responder checks the signature as natsembed does, resolves the
// key, makes its account if need be (Registry.Ensure), and answers with a user JWT that the
// account's key signs, holding the principal's permissions (UserClaims; no response
// permissions). Every export is token-required and every import carries the exporter's
// activation token, so no other account of a shared operator can import anything.
//
// Per kind (Local subject ← service account's subject; limits connections/subscriptions):
//
//   - service TETHER: JetStream; exports accounts.ServiceExports (Streamed: response type
//     stream); imports each principal's exports. The control plane's user has no limits.
//   - user U_<name> (64/512): imports tether.api.<name>.* (service),
//     tether.s.*.<name>.*.out ← tether.live.*.<name>.*.out and tether.events.> (streams),
//     and from each agent A_<id> it had a session on, tether.s.<id>.<name>.*.ctl (stream);
//     exports the stream tether.s.*.<name>.*.in (token required; the agents' accounts hold
//     tokens). Pub: its API, its sessions' input. Sub: its inbox, its sessions' out and
//     ctl (admins: events).
//   - agent A_<id> (4/4096): imports tether.agentapi.<id>.* and, from its gate,
//     tether.s.<id>.*.*.{out,rin} ← tether.from.…, and from each user U_<name> that had a
//     session on it, tether.s.<id>.<name>.*.in (stream); exports tether.agent.<id>.ctl
//     and the stream tether.s.<id>.*.*.ctl. Pub: its API, its frames, _R_.>. Sub: ctl, its
//     inbox, input. A session's start pushes both accounts when it is the pair's first
//     (Registry.AllowSession; accounts.SessionData).
//   - gate G_<id> (no connections): imports tether.ok.<id>.… ← tether.s.<id>.… and
//     tether.from.<id>.… ← tether.refused.<id>.…; exports tether.from.<id>.*.*.{kind}
//     to the agent; holds a Mapping tether.from.… → tether.ok.… per running session frame
//     kind. A session's start or end is a push of the gate's claims (Registry.AllowSession,
//     EndSession).
//   - enrollment E_<its key> (2/8): imports tether.enroll.<activation>.<its key>. Pub: its own
//     enroll subject. Sub: its enroll inbox.
//   - shipper S_<name> (8/256): imports accounts.ShipperJetStream (tether.jsapi.… ←
//     $JS.API.…). Pub: those. Sub: its inbox.
//
// What differs from the embedded broker: account names are public keys (derived from
// Keys.AccountSecret and the layout's name, which is the claims' name tag), so the
// Nats-Request-Info "acc" the control plane reads is a public key, which it maps back with
// Registry.AccountName and accounts.Parse (the server does not report the name tag).
// Accounts exist once their JWTs are pushed — principal's (gate first), then the service
// account's and the auth account's, which list it — before the callout answers. The server
// enforces connection limits from the claims. There is no per-source backoff, and no
// bound on the enrollment accounts one activation code may make (the embedded broker
// allows twice its registrations).
//
// Limits found (nats-server v2.15.2): the service account's JWT grows by about 3 KiB per
// agent and user (an import with an activation token for each principal export), so a push
// within the default 1 MiB max_payload holds about 340 agents and as many users, and every
// new principal re-pushes it; scaling needs the layout to stop making the service account
// import from each principal. A user's and an agent's JWTs grow by an import with a token
// for each agent or user they had a session with since the registry was made.
//
// Left for a --nats-url mode: persisting Keys (or using operator and account signing keys
// given by the deployment's owner), seeding Registry with every principal and re-allowing
// running sessions at start, gathering every server's push answer in a cluster, removing a
// principal (revoking its user and activation tokens), and the layout change above.
package callout
