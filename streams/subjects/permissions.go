package subjects

// Permissions is what the server lets one connection publish and subscribe to. Anything not
// listed is denied: the server enforces default deny.
type Permissions struct {
	Publish   []string
	Subscribe []string
	// PublishDeny carves exceptions out of Publish.
	PublishDeny []string
	// Responses lets the connection reply once to each request it received, on whatever
	// reply subject the requester chose (agents answering the control plane).
	Responses bool
}

// ForUser is the permission set of an end user. Admins additionally read the event stream's
// subjects live; every admin action still goes through the control plane and its policy.
func ForUser(user string, admin bool) Permissions {
	p := Permissions{
		Publish: []string{
			"tether.api." + user + ".*",
			"tether.s.*." + user + ".*.in",
		},
		Subscribe: []string{
			UserInbox(user) + ".>",
			"tether.s.*." + user + ".*.out",
			"tether.s.*." + user + ".*.ctl",
		},
	}
	if admin {
		p.Subscribe = append(p.Subscribe, EventsAll)
	}
	return p
}

// ForAgent is the permission set of an enrolled agent: its own control subject, the
// sessions that target it, and its own API prefix.
func ForAgent(agent string) Permissions {
	return Permissions{
		Publish: []string{
			"tether.agentapi." + agent + ".*",
			"tether.s." + agent + ".*.*.out",
			"tether.s." + agent + ".*.*.ctl",
			"tether.s." + agent + ".*.*.rin",
		},
		Subscribe: []string{
			AgentControl(agent),
			AgentInbox(agent) + ".>",
			"tether.s." + agent + ".*.*.in",
		},
		Responses: true,
	}
}

// ForEnrollment is the permission set of a connection that presented a valid activation:
// it may publish its enrollment request and read the reply, nothing else.
func ForEnrollment(activation, nkey string) Permissions {
	return Permissions{
		Publish:   []string{Enroll(activation, nkey)},
		Subscribe: []string{EnrollInbox(nkey) + ".>"},
	}
}

// ShipperInbox is the inbox prefix of an out-of-process shipper.
func ShipperInbox(name string) string { return "_INBOX.ship." + name }

// ForShipper is the permission set of a shipper running outside the broker: it reads the
// transcripts, events and audit streams through consumers of its own and the shared
// shipper consumer, reads session records, and writes the recordings bucket. It can
// neither create nor delete streams, touch other buckets, nor speak any API.
func ForShipper(name string) Permissions {
	var pub []string
	for _, st := range []string{"TETHER_TRANSCRIPTS", "TETHER_EVENTS", "TETHER_AUDIT"} {
		pub = append(pub,
			"$JS.API.STREAM.INFO."+st,
			"$JS.API.CONSUMER.CREATE."+st+".>",
			"$JS.API.CONSUMER.INFO."+st+".>",
			"$JS.API.CONSUMER.MSG.NEXT."+st+".>",
			"$JS.API.CONSUMER.DELETE."+st+".>",
			"$JS.ACK."+st+".>",
		)
	}
	for _, kv := range []string{"KV_tether_sessions", "KV_tether_recordings"} {
		pub = append(pub,
			"$JS.API.STREAM.INFO."+kv,
			"$JS.API.STREAM.MSG.GET."+kv,
			"$JS.API.DIRECT.GET."+kv+".>",
		)
	}
	pub = append(pub, "$KV.tether_recordings.>")
	return Permissions{
		Publish: pub,
		// Its own ordered consumers it may delete; the shared one, never.
		PublishDeny: []string{"$JS.API.CONSUMER.DELETE.TETHER_EVENTS.tether-shipper"},
		Subscribe:   []string{ShipperInbox(name) + ".>"},
	}
}
