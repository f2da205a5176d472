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
