# Full administrative access, as SSM's "Allow full (administrative) access to all
# sessions": members of an admin group may do every known action, on every target,
# session and document. Explicit denies (deny.rego) still apply to them.
#
# Data: data.tether.admin_groups, the admin groups (default ["admins"]).
package tether.authz

default admin_groups := ["admins"]

admin_groups := data.tether.admin_groups

# Verbs for admins only, unless a statement in data.tether.target_grants grants them.
admin_actions := {
	"CreateActivation", "ListActivations", "DeleteActivation",
	"AddUser", "ListUsers", "RemoveUser", "DeregisterInstance",
	"PushPolicy", "PolicyStatus", "EvaluatePolicy", "ShipStatus",
}

is_admin if {
	some g in input.principal.groups
	g in admin_groups
}

grant contains {"sid": "admin", "obligations": {}} if {
	is_admin
	input.action in known_actions
}

# Anyone may ask what the policy would decide for themselves.
grant contains {"sid": "evaluate-own", "obligations": {}} if {
	input.action == "EvaluatePolicy"
	input.subject.name == input.principal.name
	input.principal.name != ""
}

# How a denial names the admin groups.
admin_membership := sprintf("membership in the %s group", [admin_groups[0]]) if {
	count(admin_groups) == 1
} else := sprintf("membership in one of the groups %s", [concat(", ", admin_groups)])

not_granted contains sprintf("%s requires %s", [input.action, admin_membership]) if {
	input.action in admin_actions
	not evaluating_for_another
}

evaluating_for_another if {
	input.action == "EvaluatePolicy"
	input.subject.name != input.principal.name
}

not_granted contains sprintf("EvaluatePolicy for another user requires %s", [admin_membership]) if {
	evaluating_for_another
}
