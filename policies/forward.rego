# Port forwarding: who may forward, and where to.
#
# A port forwarding session is decided twice over:
#
#   StartSession, with input.forwards: [{host, port, unix_socket}], the session's
#       destinations as the client named them (host "" is the node itself);
#   ForwardConnection, once per connection, with input.forward: {dest, host, port,
#       unix_socket, address, ip, peer}: the destination, the address the node
#       resolved it to ("ip:port", or the socket's path) and that address's ip,
#       with the session, its target, its document and its owner as the principal.
#
# Who may forward at all: whoever may start the session. ForwardConnection is
# granted to the session's owner while a StartSession of its document on its
# target would be (admins, target_grants statements covering StartSession with
# their documents, the access-groups rule, an on-call shift in progress), or by
# a statement that lists ForwardConnection itself. Deny statements on
# StartSession and the document access check apply to it as well, so that
# revoking a user's access also stops new connections of sessions that run.
#
# Restricted destinations are refused unless an exception allows them, admins
# included (an exception names its principals explicitly):
#   - addresses in data.tether.forwarding.restricted_cidrs (link-local, cloud
#     metadata services), checked on a literal host at StartSession and on the
#     resolved ip of every connection, which catches DNS names pointing there;
#   - host names in restricted_hosts (globs: metadata.google.internal, ...);
#   - ports in node_admin_ports on the node itself (host "" or "localhost", an
#     address in loopback_cidrs, or, for a connection, an address the node reports
#     as one of its own, input.forward.on_node): the admin ports that must not be
#     reached from anywhere else, whether they listen on loopback only or on every
#     interface;
#   - unix sockets in restricted_unix_sockets (globs: the container runtimes').
#
# Data: data.tether.forwarding
#
#   {"restricted_cidrs": ["169.254.0.0/16", ...],
#    "restricted_hosts": ["metadata.google.internal", ...],
#    "loopback_cidrs": ["127.0.0.0/8", "::1/128", ...],
#    "node_admin_ports": [2375, 6443, 10250, ...],
#    "restricted_unix_sockets": ["/var/run/docker.sock", ...],
#    "exceptions": [{"sid": "MetadataForOps", "groups": ["ops"],
#                    "tags": {"env": "dev"},          # optional: the target's
#                    "cidrs": ["169.254.169.254/32"],  # any of these four:
#                    "hosts": ["metadata.*"],          # every one given must
#                    "ports": [80],                    # match the destination
#                    "unix_sockets": ["/run/docker.sock"]}],
#    "port_rules": [{"sid": "PostgresForDBAs", "ports": [5432],
#                    "hosts": ["db-*"], "groups": ["dba"],
#                    "reason": "port 5432 is for the dba group, on db-* hosts"}]}
#
# A port rule closes its ports to everyone it does not name (admins included),
# and, for those it names, to every host its globs do not match: the host as
# the session named it, or, for the node itself, the target's name, hostname or
# id. With "cidrs" the resolved ip must be in one of them too.
package tether.authz

default forwarding := {}

forwarding := data.tether.forwarding

forwarding_list(key) := v if {
	v := forwarding[key]
	is_array(v)
} else := []

# A statement listing ForwardConnection grants it directly (tagged_targets.rego);
# otherwise whoever may start the session may forward through it.
grant contains {"sid": sid, "obligations": {}} if {
	input.action == "ForwardConnection"
	some sid in forward_start_grants
}

forward_start_grants contains statement_id(s, i) if {
	some i, s in target_grants
	statement_covers(s, "StartSession")
	statement_documents(s)
}

forward_start_grants contains "access-groups" if target_permitted

forward_start_grants contains statement_id(shift, i) if {
	some i, shift in oncall
	shift_left(shift)
	statement_documents(shift)
}

not_granted contains "ForwardConnection requires a session and its target" if {
	input.action == "ForwardConnection"
	not forward_has_context
}

not_granted contains sprintf("you may no longer start sessions on target %s, so its connections are refused", [target_label]) if {
	input.action == "ForwardConnection"
	forward_has_context
}

forward_has_context if {
	input.session
	input.target
}

# Deny statements about StartSession close the connections of sessions too.
deny contains deny_reason(s, i) if {
	input.action == "ForwardConnection"
	some i, s in deny_statements
	deny_covers(s, "StartSession")
	deny_documents(s)
}

# The document access check, for the session's document.
deny contains sprintf("document %s is not granted to you", [input.document.name]) if {
	input.action == "ForwardConnection"
	document_access_check == true
	not is_admin
	input.document.name != ""
	not forward_document_granted
}

forward_document_granted if {
	some g in input.principal.groups
	some pattern in document_grants[g]
	glob.match(pattern, null, input.document.name)
}

forward_document_granted if {
	some s in target_grants
	has_key(s, "documents")
	statement_covers(s, "StartSession")
	statement_documents(s)
}

# The destinations a request is about, by index: every destination of a session
# that starts, the one of a connection.
forward_dests[i] := dest_view(f.host, f.port, f.unix_socket, "", "") if {
	input.action == "StartSession"
	some i, f in input.forwards
}

forward_dests[f.dest] := object.union(
	dest_view(f.host, f.port, f.unix_socket, f.ip, f.address),
	{"own_address": object.get(f, "on_node", false) == true},
) if {
	input.action == "ForwardConnection"
	f := input.forward
}

# dest_view is a destination with what the rules compare: its host (lower case,
# without a final dot), its ips (the resolved one and a literal host), its paths
# (a unix socket's, as named and as the node will dial it), and a label.
dest_view(host, port, sock, ip, address) := {
	"host": h,
	"port": port,
	"unix_socket": sock,
	"ips": {x | some x in [ip, h]; ip_literal(x)},
	"paths": {x | some x in [sock, address]; sock != ""; x != ""},
	"label": dest_label(h, port, sock),
} if {
	h := lower(trim_suffix(host, "."))
}

dest_label(host, port, sock) := sprintf("unix:%s", [sock]) if sock != ""

else := sprintf("port %v on the node", [port]) if host == ""

else := sprintf("%s:%v", [host, port])

ip_literal(s) if net.cidr_is_valid(sprintf("%s/32", [s]))

ip_literal(s) if net.cidr_is_valid(sprintf("%s/128", [s]))

in_cidrs(ip, cidrs) if {
	some c in cidrs
	net.cidr_contains(c, ip)
}

# Restrictions: [dest index, public reason].
forward_restrictions contains [i, sprintf("%s is a link-local or cloud metadata address, which may not be forwarded to unless a policy exception allows it", [ip])] if {
	some i, d in forward_dests
	some ip in d.ips
	in_cidrs(ip, forwarding_list("restricted_cidrs"))
}

forward_restrictions contains [i, sprintf("%s is a cloud metadata service, which may not be forwarded to unless a policy exception allows it", [d.host])] if {
	some i, d in forward_dests
	d.unix_socket == ""
	some pattern in forwarding_list("restricted_hosts")
	glob.match(lower(pattern), null, d.host)
}

forward_restrictions contains [i, sprintf("port %v on the node itself is an administrative port, which may not be forwarded to unless a policy exception allows it", [d.port])] if {
	some i, d in forward_dests
	on_node(d)
	d.port in forwarding_list("node_admin_ports")
}

forward_restrictions contains [i, sprintf("unix socket %s is restricted, and may not be forwarded to unless a policy exception allows it", [d.unix_socket])] if {
	some i, d in forward_dests
	some p in d.paths
	some pattern in forwarding_list("restricted_unix_sockets")
	glob.match(pattern, null, p)
}

on_node(d) if {
	d.unix_socket == ""
	d.host in {"", "localhost"}
}

on_node(d) if {
	d.unix_socket == ""
	some ip in d.ips
	in_cidrs(ip, forwarding_list("loopback_cidrs"))
}

on_node(d) if {
	d.unix_socket == ""
	d.own_address == true
}

deny contains reason if {
	some [i, reason] in forward_restrictions
	not forward_excepted(forward_dests[i])
}

# An exception allows a restricted destination to the principals it names (on
# the targets its tags match): every destination condition it gives must hold,
# and it must give at least one.
forward_excepted(d) if {
	some e in forwarding_list("exceptions")
	statement_principal(e)
	statement_tags(e)
	exception_names_destination(e)
	every key in object.keys(e) & exception_dest_keys {
		exception_matches(e, key, d)
	}
}

exception_dest_keys := {"cidrs", "hosts", "ports", "unix_sockets"}

exception_names_destination(e) if count(object.keys(e) & exception_dest_keys) > 0

exception_matches(e, "cidrs", d) if {
	some ip in d.ips
	in_cidrs(ip, e.cidrs)
}

exception_matches(e, "hosts", d) if {
	d.unix_socket == ""
	some pattern in e.hosts
	glob.match(lower(pattern), null, d.host)
}

exception_matches(e, "ports", d) if {
	d.unix_socket == ""
	d.port in e.ports
}

exception_matches(e, "unix_sockets", d) if {
	some pattern in e.unix_sockets
	every p in d.paths {
		glob.match(pattern, null, p)
	}
}

# Port rules: a port that only some principals may reach, on some hosts.
deny contains port_rule_reason(r, i, d) if {
	some i, r in forwarding_list("port_rules")
	some d in forward_dests
	d.unix_socket == ""
	d.port in r.ports
	not port_rule_allows(r, d)
}

port_rule_allows(r, d) if {
	statement_principal(r)
	port_rule_hosts(r, d)
	port_rule_cidrs(r, d)
}

port_rule_hosts(r, _) if not has_key(r, "hosts")

port_rule_hosts(r, d) if {
	some name in dest_host_names(d)
	some pattern in r.hosts
	glob.match(lower(pattern), null, lower(name))
}

port_rule_cidrs(r, _) if not has_key(r, "cidrs")

port_rule_cidrs(r, d) if {
	some ip in d.ips
	in_cidrs(ip, r.cidrs)
}

# The names of a destination's host: the node's own for the node itself.
dest_host_names(d) := {n | some n in [input.target.name, input.target.hostname, input.target.id]; is_string(n); n != ""} if {
	d.host in {"", "localhost"}
} else := {d.host}

port_rule_reason(r, i, d) := r.reason if {
	is_string(r.reason)
	r.reason != ""
} else := sprintf("port %v may be forwarded only as statement %s allows", [d.port, r.sid]) if {
	is_string(r.sid)
} else := sprintf("port %v may be forwarded only as port_rules[%d] allows", [d.port, i])
