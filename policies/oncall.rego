# On-call access for the duration of a rotation, as SSM suggests giving "an
# on-call user or group access to production servers only for the duration of
# their rotation".
#
# Data: data.tether.oncall, a list of shifts:
#
#   {"sid": "db-oncall-week-10",
#    "users": ["alice"],                  # or "groups": [...]
#    "tags": {"env": "prod"},             # the targets, as in target_grants
#    "from": "2025-03-03T09:00:00Z",      # RFC 3339; the shift is [from, to)
#    "to": "2025-03-10T09:00:00Z"}
#
# While a shift is on, its users may start sessions on its targets, and each such
# session gets the obligation max_duration = the time left in the shift, so that
# it cannot outlive it.
package tether.authz

default oncall := []

oncall := data.tether.oncall

grant contains {"sid": statement_id(shift, i), "obligations": {"max_duration": duration_string(left)}} if {
	input.action == "StartSession"
	some i, shift in oncall
	left := shift_left(shift)
	statement_documents(shift)
}

may_start_on_target if {
	some shift in oncall
	shift_left(shift)
}

# shift_left is the time left in shift (ns) when it covers the request now.
shift_left(shift) := to - now if {
	statement_principal(shift)
	statement_tags(shift)
	now := time.parse_rfc3339_ns(input.time)
	from := time.parse_rfc3339_ns(shift.from)
	to := time.parse_rfc3339_ns(shift.to)
	from <= now
	now < to
}

# A positive duration in ns as a Go duration string: whole seconds, or
# nanoseconds when less than a second is left.
duration_string(ns) := sprintf("%ds", [floor(ns / 1000000000)]) if {
	ns >= 1000000000
} else := sprintf("%dns", [ns])

# The caller has a shift on this target, but not now.
not_granted contains sprintf("your on-call shift for target %s is not in progress", [target_label]) if {
	input.action == "StartSession"
	some shift in oncall
	statement_principal(shift)
	statement_tags(shift)
	not shift_left(shift)
}
