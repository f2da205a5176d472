# Explicit deny statements, as IAM's "Effect": "Deny": a statement that matches
# denies the request whatever grants it, admins included.
#
# Data: data.tether.deny_statements, a list of:
#
#   {"sid": "NoContractorsInProd",
#    "groups": ["contractors"],           # and/or "users"; neither: everyone
#    "actions": ["StartSession"],         # globs; default ["StartSession", "ResumeSession"]
#    "tags": {"env": "prod*"},            # optional: the target's tags (globs)
#    "documents": ["*-SSH*"],             # optional: the request's document (globs)
#    "reason": "contractors may not use production"}
#
# The reason is shown to the caller (default: "<action> is denied by statement
# <sid>"). A statement with tags or documents applies only to requests that
# name a target or a document. A glob that does not compile, or a field of the
# wrong type, matches everything: a broken deny fails closed. A statement that denies StartSession on a target
# also hides it from DescribeInstanceInformation (unless it has documents).
package tether.authz

default deny_statements := []

deny_statements := data.tether.deny_statements

deny contains deny_reason(s, i) if {
	some i, s in deny_statements
	deny_covers(s, input.action)
	deny_documents(s)
}

deny contains deny_reason(s, i) if {
	input.action == "DescribeInstanceInformation"
	input.target
	some i, s in deny_statements
	not has_key(s, "documents")
	deny_covers(s, "StartSession")
}

deny_reason(s, i) := s.reason if {
	is_string(s.reason)
	s.reason != ""
} else := sprintf("%s is denied by statement %s", [input.action, s.sid]) if {
	is_string(s.sid)
} else := sprintf("%s is denied by deny_statements[%d]", [input.action, i])

deny_covers(s, action) if {
	deny_action(s, action)
	deny_principal(s)
	deny_tags(s)
}

deny_action(s, action) if {
	not has_key(s, "actions")
	action in default_statement_actions
}

deny_action(s, action) if {
	some pattern in s.actions
	deny_glob(pattern, action)
}

deny_principal(s) if {
	not has_key(s, "groups")
	not has_key(s, "users")
}

deny_principal(s) if {
	some g in s.groups
	g in input.principal.groups
}

deny_principal(s) if {
	input.principal.name in s.users
}

deny_tags(s) if not has_key(s, "tags")

deny_tags(s) if {
	input.target
	every k, pattern in s.tags {
		deny_glob(pattern, input.target.tags[k])
	}
}

deny_documents(s) if not has_key(s, "documents")

deny_documents(s) if {
	some pattern in s.documents
	deny_glob(pattern, input.document.name)
}

# A field of the wrong type (a string where a list belongs, say) matches
# everything too.
deny_action(s, _) if malformed(s, "actions", "array")

deny_principal(s) if malformed(s, "groups", "array")

deny_principal(s) if malformed(s, "users", "array")

deny_tags(s) if malformed(s, "tags", "object")

deny_documents(s) if malformed(s, "documents", "array")

malformed(s, key, "array") if {
	has_key(s, key)
	not is_array(s[key])
}

malformed(s, key, "object") if {
	has_key(s, key)
	not is_object(s[key])
}

deny_glob(pattern, value) if glob.match(pattern, null, value)

deny_glob(pattern, _) if not valid_glob(pattern)

valid_glob(pattern) if is_boolean(glob.match(pattern, null, ""))
