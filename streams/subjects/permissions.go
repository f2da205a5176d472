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

// ForShipper is the permission set of a shipper running outside the broker: it fetches
// from and acknowledges the durable consumers the broker made for shippers, reads the
// recording streams and the session records by direct gets, and writes the recordings
// bucket (ShipperJetStream). It can neither create, change nor delete a consumer or a
// stream, touch other buckets, nor speak any API.
func ForShipper(name string) Permissions {
	return Permissions{
		Publish:   ShipperJetStream(),
		Subscribe: []string{ShipperInbox(name) + ".>"},
	}
}
