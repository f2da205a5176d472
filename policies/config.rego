# Checks of the library's own data. The broker refuses a bundle whose data has any
# of these problems (config_errors is evaluated once, when the bundle is compiled),
# so that a typo in data.json is an error with the place named, not a grant that
# silently matches nobody. Keys of data.tether that the library does not use are
# left alone: bundles of your own may keep their data there too.
package tether.authz

# The library's data, key by key: data.tether as a whole holds this package too.
config_lists["target_grants"] := data.tether.target_grants

config_lists["deny_statements"] := data.tether.deny_statements

config_lists["oncall"] := data.tether.oncall

statement_keys := {"sid", "groups", "users", "actions", "tags", "documents", "sessions", "obligations"}

deny_statement_keys := {"sid", "groups", "users", "actions", "tags", "documents", "reason"}

shift_keys := {"sid", "groups", "users", "tags", "documents", "from", "to"}

obligation_keys := {"max_duration", "idle_timeout", "run_as", "recording_required"}

# Each list of statements, with the keys its statements may have.
statement_lists := {
	"target_grants": statement_keys,
	"deny_statements": deny_statement_keys,
	"oncall": shift_keys,
}

config_errors contains sprintf("data.tether.%s: want a list of statements", [name]) if {
	some name, v in config_lists
	not is_array(v)
}

config_errors contains sprintf("data.tether.%s[%d]: want an object", [name, i]) if {
	some name, _ in statement_lists
	some i, s in list_of(name)
	not is_object(s)
}

config_errors contains sprintf("data.tether.%s[%d]: unknown key %q (known: %s)", [name, i, k, concat(", ", sort(keys))]) if {
	some name, keys in statement_lists
	some i, s in list_of(name)
	is_object(s)
	some k, _ in s
	not k in keys
}

config_errors contains sprintf("data.tether.%s[%d].%s: want a list of strings", [name, i, k]) if {
	some name, _ in statement_lists
	some i, s in list_of(name)
	some k in {"groups", "users", "actions", "documents"}
	v := s[k]
	not strings_list(v)
}

config_errors contains sprintf("data.tether.%s[%d].tags: want an object of strings", [name, i]) if {
	some name, _ in statement_lists
	some i, s in list_of(name)
	v := s.tags
	not strings_object(v)
}

# Grants name actions exactly; deny statements may use globs.
config_errors contains sprintf("data.tether.%s[%d].actions: unknown action %q", [name, i, a]) if {
	some name in {"target_grants"}
	some i, s in list_of(name)
	some a in s.actions
	is_string(a)
	not a in known_actions
}

config_errors contains sprintf("data.tether.target_grants[%d].sessions: want \"own\" or \"any\", not %s", [i, json.marshal(v)]) if {
	some i, s in list_of("target_grants")
	v := s.sessions
	not v in {"own", "any"}
}

config_errors contains sprintf("data.tether.target_grants[%d].obligations: unknown obligation %q (known: %s)", [i, k, concat(", ", sort(obligation_keys))]) if {
	some i, s in list_of("target_grants")
	some k, _ in s.obligations
	not k in obligation_keys
}

config_errors contains sprintf("data.tether.target_grants[%d].obligations.%s: want a duration such as \"30m\", not %s", [i, k, json.marshal(v)]) if {
	some i, s in list_of("target_grants")
	some k in {"max_duration", "idle_timeout"}
	v := s.obligations[k]
	not valid_duration(v)
}

config_errors contains sprintf("data.tether.oncall[%d].%s: want an RFC 3339 time, not %s", [i, k, json.marshal(v)]) if {
	some i, s in list_of("oncall")
	some k in {"from", "to"}
	v := object.get(s, k, null)
	not rfc3339(v)
}

config_errors contains sprintf("data.tether.oncall[%d]: from is not before to", [i]) if {
	some i, s in list_of("oncall")
	time.parse_rfc3339_ns(s.from) >= time.parse_rfc3339_ns(s.to)
}

config_errors contains "data.tether.admin_groups: want a non-empty list of strings" if {
	v := data.tether.admin_groups
	not non_empty_strings(v)
}

config_errors contains "data.tether.document_access_check: want true or false" if {
	v := data.tether.document_access_check
	not is_boolean(v)
}

config_errors contains sprintf("data.tether.document_grants.%s: want a list of document names", [g]) if {
	is_object(data.tether.document_grants)
	some g, v in data.tether.document_grants
	not strings_list(v)
}

config_errors contains "data.tether.document_grants: want an object of group: [document names]" if {
	v := data.tether.document_grants
	not is_object(v)
}

list_of(name) := v if {
	v := config_lists[name]
	is_array(v)
} else := []

strings_list(v) if {
	is_array(v)
	every x in v {
		is_string(x)
	}
}

non_empty_strings(v) if {
	strings_list(v)
	count(v) > 0
}

strings_object(v) if {
	is_object(v)
	every _, x in v {
		is_string(x)
	}
}

rfc3339(v) if {
	is_string(v)
	time.parse_rfc3339_ns(v)
}

# data.tether.forwarding (forward.rego).
forwarding_keys := {
	"restricted_cidrs", "restricted_hosts", "loopback_cidrs", "node_admin_ports",
	"restricted_unix_sockets", "exceptions", "port_rules",
}

forwarding_exception_keys := {"sid", "groups", "users", "tags", "cidrs", "hosts", "ports", "unix_sockets"}

forwarding_port_rule_keys := {"sid", "groups", "users", "ports", "hosts", "cidrs", "reason"}

config_errors contains "data.tether.forwarding: want an object" if {
	v := data.tether.forwarding
	not is_object(v)
}

config_errors contains sprintf("data.tether.forwarding: unknown key %q (known: %s)", [k, concat(", ", sort(forwarding_keys))]) if {
	some k, _ in data.tether.forwarding
	not k in forwarding_keys
}

config_errors contains sprintf("data.tether.forwarding.%s: want a list of CIDRs such as \"169.254.0.0/16\"", [k]) if {
	some k in {"restricted_cidrs", "loopback_cidrs"}
	v := data.tether.forwarding[k]
	not cidr_list(v)
}

config_errors contains sprintf("data.tether.forwarding.%s: want a list of strings", [k]) if {
	some k in {"restricted_hosts", "restricted_unix_sockets"}
	v := data.tether.forwarding[k]
	not strings_list(v)
}

config_errors contains "data.tether.forwarding.node_admin_ports: want a list of port numbers (1-65535)" if {
	v := data.tether.forwarding.node_admin_ports
	not port_list(v)
}

forwarding_statements := {"exceptions": forwarding_exception_keys, "port_rules": forwarding_port_rule_keys}

config_errors contains sprintf("data.tether.forwarding.%s: want a list of statements", [name]) if {
	some name, _ in forwarding_statements
	v := data.tether.forwarding[name]
	not is_array(v)
}

config_errors contains sprintf("data.tether.forwarding.%s[%d]: want an object", [name, i]) if {
	some name, _ in forwarding_statements
	some i, s in forwarding_list(name)
	not is_object(s)
}

config_errors contains sprintf("data.tether.forwarding.%s[%d]: unknown key %q (known: %s)", [name, i, k, concat(", ", sort(keys))]) if {
	some name, keys in forwarding_statements
	some i, s in forwarding_list(name)
	is_object(s)
	some k, _ in s
	not k in keys
}

config_errors contains sprintf("data.tether.forwarding.%s[%d].%s: want a list of strings", [name, i, k]) if {
	some name, _ in forwarding_statements
	some i, s in forwarding_list(name)
	some k in {"groups", "users", "hosts", "unix_sockets"}
	v := s[k]
	not strings_list(v)
}

config_errors contains sprintf("data.tether.forwarding.%s[%d].cidrs: want a list of CIDRs", [name, i]) if {
	some name, _ in forwarding_statements
	some i, s in forwarding_list(name)
	v := s.cidrs
	not cidr_list(v)
}

config_errors contains sprintf("data.tether.forwarding.%s[%d].ports: want a list of port numbers (1-65535)", [name, i]) if {
	some name, _ in forwarding_statements
	some i, s in forwarding_list(name)
	v := s.ports
	not port_list(v)
}

config_errors contains sprintf("data.tether.forwarding.exceptions[%d].tags: want an object of strings", [i]) if {
	some i, s in forwarding_list("exceptions")
	v := s.tags
	not strings_object(v)
}

config_errors contains sprintf("data.tether.forwarding.exceptions[%d]: name the destinations it allows (cidrs, hosts, ports or unix_sockets)", [i]) if {
	some i, s in forwarding_list("exceptions")
	is_object(s)
	not exception_names_destination(s)
}

config_errors contains sprintf("data.tether.forwarding.port_rules[%d]: ports is required", [i]) if {
	some i, s in forwarding_list("port_rules")
	is_object(s)
	not has_key(s, "ports")
}

cidr_list(v) if {
	is_array(v)
	every x in v {
		is_string(x)
		net.cidr_is_valid(x)
	}
}

port_list(v) if {
	is_array(v)
	every x in v {
		is_number(x)
		x == floor(x)
		x >= 1
		x <= 65535
	}
}
