# Tether's shipped authorization policy.
#
# The broker queries data.tether.authz.decision once per request, with the
# input documented in policies/README.md, and gets back
# {"allow": bool, "reasons": [string], "obligations": {}}.
# Reasons are shown to the caller: they must not leak other users' data.
package tether.authz

admin_group := "admins"

# Verbs any user may call. The broker itself narrows DescribeSessions to the
# caller's own sessions unless the caller is an admin.
open_actions := {"DescribeSessions", "DescribeInstanceInformation", "WhoAmI"}

# Verbs on an existing session, allowed to the session's owner, with the
# phrase a denial uses for each.
owner_actions := {
	"TerminateSession": "terminate",
	"GetSession": "view",
	"ReadTranscript": "read the transcript of",
}

admin_actions := {
	"CreateActivation",
	"ListActivations",
	"DeleteActivation",
	"AddUser",
	"ListUsers",
	"RemoveUser",
	"DeregisterInstance",
}

# Every action above, spelled out rather than computed so that evaluation does not
# rebuild it per request (test_known_actions_are_the_union keeps it in step).
known_actions := {
	"StartSession",
	"DescribeSessions", "DescribeInstanceInformation", "WhoAmI",
	"TerminateSession", "GetSession", "ReadTranscript",
	"CreateActivation", "ListActivations", "DeleteActivation",
	"AddUser", "ListUsers", "RemoveUser", "DeregisterInstance",
}

decision := {
	"allow": allow,
	"reasons": reasons,
	"obligations": obligations,
}

obligations := {}

# Default deny. An unknown action is denied even to admins, so a verb the
# policy has never heard of is refused until someone writes a rule for it.
default allow := false

allow if {
	input.action in known_actions
	is_admin
}

allow if {
	input.action in open_actions
}

allow if {
	input.action == "StartSession"
	target_permitted
}

allow if {
	owner_actions[input.action]
	session_owned
}

reasons := [] if {
	allow
} else := sort(deny)

is_admin if admin_group in input.principal.groups

# The groups a target admits, from its comma-separated access-groups tag.
target_groups contains g if {
	some part in split(input.target.tags["access-groups"], ",")
	g := trim_space(part)
	g != ""
}

# (a) one of the user's groups is in the target's access-groups tag.
target_permitted if {
	some g in input.principal.groups
	g in target_groups
}

# (b) some user attribute k=v matches the target's tag k=v.
target_permitted if {
	some k, v in input.principal.attributes
	v != ""
	input.target.tags[k] == v
}

session_owned if {
	input.session.owner != ""
	input.session.owner == input.principal.name
}

# Public reasons for a denial. Only consulted when allow is false.

# Negate through this helper rule: `not is_string(input.action)` does not hold when
# input.action is undefined (the undefined argument fails the whole body).
has_action if {
	is_string(input.action)
	input.action != ""
}

deny contains "the request names no action" if not has_action

deny contains sprintf("unknown action %q", [input.action]) if {
	has_action
	not input.action in known_actions
}

deny contains sprintf("%s requires membership in the %s group", [input.action, admin_group]) if {
	input.action in admin_actions
}

deny contains "StartSession requires a target" if {
	input.action == "StartSession"
	not input.target
}

deny contains sprintf("target %s is not tagged for any of your groups or attributes", [target_label]) if {
	input.action == "StartSession"
	input.target
	not target_permitted
}

deny contains sprintf("%s requires a session", [input.action]) if {
	owner_actions[input.action]
	not input.session
}

deny contains sprintf("only the session's owner or an admin may %s %s", [verb, session_label]) if {
	verb := owner_actions[input.action]
	input.session
	not session_owned
}

# How a denial names the target and the session.
target_label := input.target.name if {
	input.target.name != ""
} else := input.target.id if {
	input.target.id != ""
} else := "(unnamed)"

session_label := sprintf("session %s", [input.session.id]) if {
	input.session.id != ""
} else := "this session"
