# End users limited to tagged targets, as SSM's end-user policy
# (StringLike ssm:resourceTag/Environment: staging) and administrator policy
# (ssm:resourceTag/Finance: WebServers, plus Create/Update/GetDocument on the
# preferences document).
#
# Data: data.tether.target_grants, a list of statements:
#
#   {"sid": "StagingUsers",
#    "groups": ["staging-users"],          # or "users": ["alice"]; one must match
#    "actions": ["StartSession"],          # default ["StartSession", "ResumeSession"]
#    "tags": {"Environment": "staging"},   # every tag must match the target's (globs)
#    "documents": ["Tether-*"],            # optional: the request's document (globs)
#    "sessions": "any",                    # optional: for session verbs; default "own"
#    "obligations": {"max_duration": "1h"}}
#
# A statement with neither groups nor users applies to nobody. Without tags it
# applies to every target (and to requests without one); with tags, only to a
# request whose target carries them. Globs are IAM StringLike: * is any run of
# characters ("/" and "." included), ? one character.
#
# Besides the statements, the default rule of earlier releases stays: a user may
# start a session on a target whose access-groups tag (comma-separated) names one
# of their groups, or that has a tag k=v equal to one of their attributes k=v.
#
# DescribeInstanceInformation is asked once without a target (may you list at
# all: yes, see authz.rego) and once per target with it: a user sees the targets
# they could start a session on (ignoring document conditions).
package tether.authz

default target_grants := []

target_grants := data.tether.target_grants

default_statement_actions := ["StartSession", "ResumeSession"]

grant contains {"sid": statement_id(s, i), "obligations": object.get(s, "obligations", {})} if {
	some i, s in target_grants
	statement_covers(s, input.action)
	statement_documents(s)
	statement_sessions(s, input.action)
}

grant contains {"sid": "access-groups", "obligations": {}} if {
	input.action == "StartSession"
	target_permitted
}

# A DescribeInstanceInformation item: visible to whoever could start a session there.
grant contains {"sid": "visible-target", "obligations": {}} if {
	input.action == "DescribeInstanceInformation"
	input.target
	may_start_on_target
}

may_start_on_target if target_permitted

may_start_on_target if {
	some s in target_grants
	statement_covers(s, "StartSession")
}

statement_id(s, i) := s.sid if is_string(s.sid)

else := sprintf("target_grants[%d]", [i])

# statement_covers holds when statement s applies to action by who and where,
# before document and session conditions.
statement_covers(s, action) if {
	statement_principal(s)
	statement_action(s, action)
	statement_tags(s)
}

statement_action(s, action) if action in s.actions

statement_action(s, action) if {
	not has_key(s, "actions")
	action in default_statement_actions
}

statement_principal(s) if {
	some g in s.groups
	g in input.principal.groups
}

statement_principal(s) if {
	input.principal.name != ""
	input.principal.name in s.users
}

statement_tags(s) if not has_key(s, "tags")

statement_tags(s) if {
	input.target
	every k, pattern in s.tags {
		glob.match(pattern, null, input.target.tags[k])
	}
}

statement_documents(s) if not has_key(s, "documents")

statement_documents(s) if {
	some pattern in s.documents
	glob.match(pattern, null, input.document.name)
}

# For a request about one session, a statement covers only the caller's own
# sessions unless it says "sessions": "any".
statement_sessions(_, action) if not session_request(action)

statement_sessions(s, action) if {
	session_request(action)
	object.get(s, "sessions", "own") == "any"
}

statement_sessions(s, action) if {
	session_request(action)
	object.get(s, "sessions", "own") != "any"
	session_owned
}

# The default rule.

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

not_granted contains "StartSession requires a target" if {
	input.action == "StartSession"
	not input.target
}

not_granted contains sprintf("target %s is not tagged for any of your groups or attributes", [target_label]) if {
	input.action == "StartSession"
	input.target
	not may_start_on_target
}

not_granted contains sprintf("you may not start sessions on target %s", [target_label]) if {
	input.action == "DescribeInstanceInformation"
	input.target
}

# The target is open to the user, but no statement covers the document asked for.
not_granted contains sprintf("document %s is not granted to you", [document_label]) if {
	input.action == "StartSession"
	may_start_on_target
}
