# Unit tests for forward.rego: who may forward, restricted destinations,
# exceptions and port rules.
package tether.forward_test

import data.tether.authz

alice := {"name": "alice", "kind": "user", "groups": ["dev"]}

dan := {"name": "dan", "kind": "user", "groups": ["dev", "dba"]}

root := {"name": "root", "kind": "user", "groups": ["admins"]}

mallory := {"name": "mallory", "kind": "user", "groups": ["guests"]}

web1 := {"id": "i-1", "name": "web-1", "tags": {"access-groups": "dev"}}

db2 := {"id": "i-2", "name": "db-2", "hostname": "db-2.internal", "tags": {"access-groups": "dev"}}

pf := {"name": "Tether-StartPortForwardingSession", "type": "Port"}

remote := {"name": "Tether-StartPortForwardingSessionToRemoteHost", "type": "Port"}

dest(host, port) := {"host": host, "port": port, "unix_socket": ""}

sock(path) := {"host": "", "port": 0, "unix_socket": path}

start(who, target, forwards) := d if {
	d := authz.decision with input as {
		"principal": who, "action": "StartSession", "target": target,
		"document": pf, "forwards": forwards,
	}
}

# conn is a connection of who's session on target to forwards[0] (f), resolved to ip.
conn(who, target, f, ip) := d if {
	d := authz.decision with input as {
		"principal": who, "action": "ForwardConnection", "target": target,
		"session": {"id": concat("-", [who.name, "1"]), "owner": who.name, "target": target.id, "document": pf.name},
		"document": pf,
		"forward": object.union(f, {"dest": 0, "ip": ip, "address": addr(f, ip), "peer": "127.0.0.1:50000"}),
	}
}

addr(f, ip) := f.unix_socket if f.unix_socket != ""

else := sprintf("%s:%d", [ip, f.port]) if contains(ip, ".")

else := sprintf("[%s]:%d", [ip, f.port])

allowed(d) if {
	d.allow
	d.reasons == []
}

denied_with(d, reason) if {
	not d.allow
	reason in d.reasons
}

# Who may forward at all: whoever may start the session.

test_start_port_session_where_one_may_start if {
	allowed(start(alice, web1, [dest("", 80), dest("grafana.internal", 3000), sock("/run/postgresql/.s.PGSQL.5432")]))
}

test_start_port_session_refused_off_ones_targets if {
	d := start(mallory, web1, [dest("", 80)])
	denied_with(d, "target web-1 is not tagged for any of your groups or attributes")
}

test_connection_allowed_for_the_owner if {
	allowed(conn(alice, web1, dest("", 80), "127.0.0.1"))
	allowed(conn(alice, web1, dest("grafana.internal", 3000), "10.0.0.9"))
	allowed(conn(alice, web1, sock("/run/postgresql/.s.PGSQL.5432"), ""))
}

test_connection_refused_once_the_owner_may_not_start if {
	d := conn(mallory, web1, dest("", 80), "127.0.0.1")
	d.reasons == ["you may no longer start sessions on target web-1, so its connections are refused"]
	not d.allow
}

test_connection_needs_session_and_target if {
	d := authz.decision with input as {"principal": alice, "action": "ForwardConnection", "forward": dest("", 80)}
	d.reasons == ["ForwardConnection requires a session and its target"]
}

test_connection_granted_by_a_start_statement_with_its_documents if {
	grants := [{"sid": "PF", "users": ["mallory"], "documents": ["Tether-StartPortForwarding*"]}]
	allowed(conn(mallory, web1, dest("", 80), "127.0.0.1")) with data.tether.target_grants as grants
	d := authz.decision with data.tether.target_grants as grants
		with input as {
			"principal": mallory, "action": "ForwardConnection", "target": web1,
			"session": {"id": "mallory-1", "owner": "mallory", "target": "i-1"},
			"document": {"name": "Tether-StartSSHSession", "type": "Port"},
			"forward": object.union(dest("", 22), {"dest": 0, "ip": "127.0.0.1", "address": "127.0.0.1:22", "peer": ""}),
		}
	not d.allow
}

test_connection_granted_by_a_statement_naming_it if {
	grants := [{"sid": "OnlyForward", "users": ["mallory"], "actions": ["ForwardConnection"]}]
	allowed(conn(mallory, web1, dest("", 80), "127.0.0.1")) with data.tether.target_grants as grants
}

test_connection_granted_during_oncall_shift if {
	shifts := [{"sid": "s", "users": ["mallory"], "from": "2025-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}]
	d := authz.decision with data.tether.oncall as shifts
		with input as {
			"principal": mallory, "action": "ForwardConnection", "target": web1, "time": "2026-01-01T00:00:00Z",
			"session": {"id": "mallory-1", "owner": "mallory", "target": "i-1"}, "document": pf,
			"forward": object.union(dest("", 80), {"dest": 0, "ip": "127.0.0.1", "address": "127.0.0.1:80", "peer": ""}),
		}
	allowed(d)
	d.obligations == {}
}

test_deny_statement_on_start_closes_connections if {
	denies := [{"sid": "NoDev", "groups": ["dev"], "reason": "dev is frozen"}]
	d := conn(alice, web1, dest("", 80), "127.0.0.1") with data.tether.deny_statements as denies
	d.reasons == ["dev is frozen"]
}

test_document_access_check_applies_to_connections if {
	d := conn(alice, web1, dest("", 80), "127.0.0.1") with data.tether.document_access_check as true
	denied_with(d, "document Tether-StartPortForwardingSession is not granted to you")
	allowed(conn(alice, web1, dest("", 80), "127.0.0.1")) with data.tether.document_access_check as true
		with data.tether.document_grants as {"dev": ["Tether-StartPortForwarding*"]}
}

test_admin_may_forward if {
	allowed(conn(root, web1, dest("", 80), "127.0.0.1"))
	allowed(start(root, web1, [dest("10.1.2.3", 8080)]))
}

# Restricted destinations.

test_metadata_literals_refused_at_start if {
	every ip in ["169.254.169.254", "169.254.0.1", "fd00:ec2::254", "fe80::1", "100.100.100.200", "168.63.129.16"] {
		d := start(alice, web1, [dest("", 80), dest(ip, 80)])
		not d.allow
		d.reasons == [sprintf("%s is a link-local or cloud metadata address, which may not be forwarded to unless a policy exception allows it", [ip])]
	}
}

test_metadata_refused_for_admins_too if {
	not start(root, web1, [dest("169.254.169.254", 80)]).allow
	not conn(root, web1, dest("", 80), "169.254.169.254").allow
}

test_metadata_names_refused_at_start if {
	every host in ["metadata.google.internal", "METADATA.google.internal.", "metadata", "instance-data.ec2.internal"] {
		not start(alice, web1, [dest(host, 80)]).allow
	}
	allowed(start(alice, web1, [dest("metadata.example.com", 80)]))
}

test_dns_name_resolving_to_metadata_refused_per_connection if {
	allowed(start(alice, web1, [dest("innocent.example.com", 80)]))
	d := conn(alice, web1, dest("innocent.example.com", 80), "169.254.169.254")
	d.reasons == ["169.254.169.254 is a link-local or cloud metadata address, which may not be forwarded to unless a policy exception allows it"]
	not conn(alice, web1, dest("innocent.example.com", 80), "fd00:ec2::254").allow
	not conn(alice, web1, dest("innocent.example.com", 80), "::ffff:169.254.169.254").allow
}

test_node_admin_ports_refused_on_the_node if {
	every f in [dest("", 2375), dest("localhost", 6443), dest("127.0.0.2", 10250), dest("::1", 4222), dest("0.0.0.0", 8222)] {
		d := start(alice, web1, [f])
		not d.allow
		d.reasons == [sprintf("port %v on the node itself is an administrative port, which may not be forwarded to unless a policy exception allows it", [f.port])]
	}
	# A name that resolves to loopback is caught per connection.
	not conn(alice, web1, dest("localtest.me", 2379), "127.0.0.1").allow
}

# conn_on_node is conn to an address the node reports as one of its own.
conn_on_node(who, target, f, ip) := d if {
	d := authz.decision with input as {
		"principal": who, "action": "ForwardConnection", "target": target,
		"session": {"id": concat("-", [who.name, "1"]), "owner": who.name, "target": target.id, "document": pf.name},
		"document": pf,
		"forward": object.union(f, {"dest": 0, "ip": ip, "address": addr(f, ip), "on_node": true, "peer": "127.0.0.1:50000"}),
	}
}

test_node_admin_ports_refused_on_the_nodes_own_addresses if {
	# kubelet listens on every interface: its port on the node's own address is the node's.
	d := conn_on_node(alice, web1, dest("10.0.0.5", 10250), "10.0.0.5")
	d.reasons == ["port 10250 on the node itself is an administrative port, which may not be forwarded to unless a policy exception allows it"]
	not conn_on_node(alice, web1, dest("web-1.internal", 2379), "2001:db8::5").allow
	# Another port there is not administrative; the same address not the node's is elsewhere.
	allowed(conn_on_node(alice, web1, dest("10.0.0.5", 8080), "10.0.0.5"))
	allowed(conn(alice, web1, dest("10.0.0.5", 10250), "10.0.0.5"))
}

test_node_admin_ports_open_elsewhere if {
	allowed(start(alice, web1, [dest("k8s-api.internal", 6443)]))
	allowed(conn(alice, web1, dest("k8s-api.internal", 6443), "10.0.0.1"))
	allowed(start(alice, web1, [dest("", 8080)]))
}

test_restricted_unix_sockets if {
	d := start(alice, web1, [sock("/var/run/docker.sock")])
	d.reasons == ["unix socket /var/run/docker.sock is restricted, and may not be forwarded to unless a policy exception allows it"]
	not conn(alice, web1, sock("/run/containerd/containerd.sock"), "").allow
}

test_unix_socket_checked_as_the_node_dials_it if {
	# The node reports the path it will dial: a link to docker's socket is caught.
	d := authz.decision with input as {
		"principal": alice, "action": "ForwardConnection", "target": web1,
		"session": {"id": "alice-1", "owner": "alice", "target": "i-1"}, "document": pf,
		"forward": {"dest": 0, "host": "", "port": 0, "unix_socket": "/tmp/innocent.sock", "address": "/run/docker.sock", "ip": "", "peer": ""},
	}
	not d.allow
}

# Exceptions.

ops_metadata := [{"sid": "MetadataForOps", "groups": ["dev"], "tags": {"access-groups": "dev"}, "cidrs": ["169.254.169.254/32"], "ports": [80]}]

test_exception_allows_a_restricted_destination if {
	allowed(start(alice, web1, [dest("169.254.169.254", 80)])) with data.tether.forwarding.exceptions as ops_metadata
	allowed(conn(alice, web1, dest("metadata.example.com", 80), "169.254.169.254")) with data.tether.forwarding.exceptions as ops_metadata
}

test_exception_is_exact if {
	# Another address of the range, another port, another principal, another target.
	not start(alice, web1, [dest("169.254.169.253", 80)]).allow with data.tether.forwarding.exceptions as ops_metadata
	not start(alice, web1, [dest("169.254.169.254", 8080)]).allow with data.tether.forwarding.exceptions as ops_metadata
	not start(root, web1, [dest("169.254.169.254", 80)]).allow with data.tether.forwarding.exceptions as ops_metadata
	not start(alice, {"id": "i-3", "tags": {"access-groups": "dev,x"}}, [dest("169.254.169.254", 80)]).allow with data.tether.forwarding.exceptions as ops_metadata
}

test_exception_for_a_socket if {
	ex := [{"sid": "Docker", "users": ["alice"], "unix_sockets": ["/var/run/docker.sock"]}]
	allowed(start(alice, web1, [sock("/var/run/docker.sock")])) with data.tether.forwarding.exceptions as ex
	allowed(conn(alice, web1, sock("/var/run/docker.sock"), "")) with data.tether.forwarding.exceptions as ex
	not start(alice, web1, [sock("/run/containerd/containerd.sock")]).allow with data.tether.forwarding.exceptions as ex
}

test_exception_without_destination_allows_nothing if {
	ex := [{"sid": "Everything", "users": ["alice"]}]
	not start(alice, web1, [dest("169.254.169.254", 80)]).allow with data.tether.forwarding.exceptions as ex
}

# Port rules: port 5432 to db-* hosts only, for group dba.

dba_rule := [{"sid": "PostgresForDBAs", "ports": [5432], "hosts": ["db-*"], "groups": ["dba"]}]

test_port_rule_allows_the_named_group_on_its_hosts if {
	allowed(start(dan, web1, [dest("db-1.internal", 5432)])) with data.tether.forwarding.port_rules as dba_rule
	allowed(conn(dan, web1, dest("db-1.internal", 5432), "10.0.0.5")) with data.tether.forwarding.port_rules as dba_rule
	# The node itself, by its name.
	allowed(start(dan, db2, [dest("", 5432)])) with data.tether.forwarding.port_rules as dba_rule
}

test_port_rule_refuses_others if {
	d := start(alice, web1, [dest("db-1.internal", 5432)]) with data.tether.forwarding.port_rules as dba_rule
	d.reasons == ["port 5432 may be forwarded only as statement PostgresForDBAs allows"]
	not conn(alice, web1, dest("db-1.internal", 5432), "10.0.0.5").allow with data.tether.forwarding.port_rules as dba_rule
	not start(root, web1, [dest("db-1.internal", 5432)]).allow with data.tether.forwarding.port_rules as dba_rule
}

test_port_rule_refuses_other_hosts if {
	not start(dan, web1, [dest("web-3.internal", 5432)]).allow with data.tether.forwarding.port_rules as dba_rule
	not start(dan, web1, [dest("", 5432)]).allow with data.tether.forwarding.port_rules as dba_rule
}

test_port_rule_leaves_other_ports if {
	allowed(start(alice, web1, [dest("db-1.internal", 80)])) with data.tether.forwarding.port_rules as dba_rule
}

test_port_rule_with_cidrs_checks_the_resolved_address if {
	rule := [{"sid": "PG", "ports": [5432], "hosts": ["db-*"], "cidrs": ["10.20.0.0/16"], "groups": ["dba"], "reason": "postgres is for dba, on the db network"}]
	allowed(conn(dan, web1, dest("db-1", 5432), "10.20.3.4")) with data.tether.forwarding.port_rules as rule
	d := conn(dan, web1, dest("db-1", 5432), "10.99.3.4") with data.tether.forwarding.port_rules as rule
	d.reasons == ["postgres is for dba, on the db network"]
}

# The data is checked.

test_config_errors_in_forwarding if {
	errs := authz.config_errors with data.tether.forwarding as {
		"restricted_cidrs": ["169.254.0.0/16", "not-a-cidr"],
		"node_admin_ports": [22, 70000],
		"exceptions": [{"sid": "x", "groups": ["ops"]}, {"sid": "y", "cidrs": ["1.2.3.4/32"], "color": "red"}],
		"port_rules": [{"sid": "z", "hosts": ["db-*"]}],
		"typo": true,
	}
	"data.tether.forwarding.restricted_cidrs: want a list of CIDRs such as \"169.254.0.0/16\"" in errs
	"data.tether.forwarding.node_admin_ports: want a list of port numbers (1-65535)" in errs
	"data.tether.forwarding.exceptions[0]: name the destinations it allows (cidrs, hosts, ports or unix_sockets)" in errs
	"data.tether.forwarding.exceptions[1]: unknown key \"color\" (known: cidrs, groups, hosts, ports, sid, tags, unix_sockets, users)" in errs
	"data.tether.forwarding.port_rules[0]: ports is required" in errs
	"data.tether.forwarding: unknown key \"typo\" (known: exceptions, loopback_cidrs, node_admin_ports, port_rules, restricted_cidrs, restricted_hosts, restricted_unix_sockets)" in errs
	count(errs) == 6
}

test_shipped_forwarding_data_is_valid if {
	count(authz.config_errors) == 0
}
