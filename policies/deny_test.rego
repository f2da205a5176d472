# Unit tests for deny.rego: explicit denies override every grant, admins' included.
package tether.deny_test

import data.tether.authz

carl := {"name": "carl", "kind": "user", "groups": ["contractors", "dev"]}

root := {"name": "root", "kind": "user", "groups": ["admins", "contractors"]}

prod := {"id": "i-30", "name": "api-prod", "tags": {"env": "prod", "access-groups": "dev"}}

staging := {"id": "i-31", "name": "api-staging", "tags": {"env": "staging", "access-groups": "dev"}}

no_prod := [{
	"sid": "NoContractorsInProd",
	"groups": ["contractors"],
	"tags": {"env": "prod*"},
	"reason": "contractors may not use production",
}]

start(who, target) := d if {
	d := authz.decision with input as {"principal": who, "action": "StartSession", "target": target, "document": {"name": "Tether-SessionManagerRunShell"}}
		with data.tether.deny_statements as no_prod
}

test_deny_overrides_allow if {
	# Without the statement, carl's access-groups tag lets him in.
	authz.decision.allow with input as {"principal": carl, "action": "StartSession", "target": prod}
	d := start(carl, prod)
	not d.allow
	d.reasons == ["contractors may not use production"]
	d.obligations == {}
}

test_deny_applies_to_admins if {
	d := start(root, prod)
	not d.allow
	d.reasons == ["contractors may not use production"]
}

test_deny_only_where_it_matches if {
	start(carl, staging).allow
	start({"name": "dave", "groups": ["dev"]}, prod).allow
}

test_deny_default_reason if {
	d := authz.decision with input as {"principal": carl, "action": "StartSession", "target": prod}
		with data.tether.deny_statements as [{"sid": "S1", "users": ["carl"]}]
	d.reasons == ["StartSession is denied by statement S1"]
	d2 := authz.decision with input as {"principal": carl, "action": "ResumeSession", "target": prod, "session": {"id": "carl-1", "owner": "carl"}}
		with data.tether.deny_statements as [{"users": ["carl"]}]
	d2.reasons == ["ResumeSession is denied by deny_statements[0]"]
}

test_deny_default_actions if {
	# Without actions, a statement denies StartSession and ResumeSession only.
	authz.decision.allow with input as {"principal": carl, "action": "WhoAmI"}
		with data.tether.deny_statements as [{"users": ["carl"]}]
}

test_deny_action_globs if {
	d := authz.decision with input as {"principal": root, "action": "PushPolicy"}
		with data.tether.deny_statements as [{"sid": "Freeze", "actions": ["Push*", "Update*"], "reason": "change freeze"}]
	d.reasons == ["change freeze"]
	authz.decision.allow with input as {"principal": root, "action": "PolicyStatus"}
		with data.tether.deny_statements as [{"sid": "Freeze", "actions": ["Push*", "Update*"], "reason": "change freeze"}]
}

test_deny_without_principals_applies_to_everyone if {
	d := authz.decision with input as {"principal": root, "action": "StartSession", "target": prod}
		with data.tether.deny_statements as [{"sid": "ProdClosed", "tags": {"env": "prod"}}]
	d.reasons == ["StartSession is denied by statement ProdClosed"]
}

test_deny_documents if {
	stmts := [{"sid": "NoSSH", "groups": ["contractors"], "documents": ["*SSH*"], "reason": "no SSH for contractors"}]
	d := authz.decision with input as {"principal": carl, "action": "StartSession", "target": staging, "document": {"name": "Tether-StartSSHSession"}}
		with data.tether.deny_statements as stmts
	d.reasons == ["no SSH for contractors"]
	authz.decision.allow with input as {"principal": carl, "action": "StartSession", "target": staging, "document": {"name": "Tether-SessionManagerRunShell"}}
		with data.tether.deny_statements as stmts
	# No document in the request: a statement about documents does not apply.
	authz.decision.allow with input as {"principal": carl, "action": "StartSession", "target": staging}
		with data.tether.deny_statements as stmts
}

test_deny_tags_need_a_target if {
	authz.decision.allow with input as {"principal": carl, "action": "ResumeSession", "session": {"id": "carl-1", "owner": "carl"}}
		with data.tether.deny_statements as no_prod
}

test_deny_bad_glob_fails_closed if {
	d := authz.decision with input as {"principal": carl, "action": "StartSession", "target": staging}
		with data.tether.deny_statements as [{"sid": "Broken", "groups": ["contractors"], "tags": {"env": "[prod"}}]
	d.reasons == ["StartSession is denied by statement Broken"]
}

test_deny_hides_targets if {
	d := authz.decision with input as {"principal": carl, "action": "DescribeInstanceInformation", "target": prod}
		with data.tether.deny_statements as no_prod
	d.reasons == ["contractors may not use production"]
	authz.decision.allow with input as {"principal": carl, "action": "DescribeInstanceInformation", "target": staging}
		with data.tether.deny_statements as no_prod
	authz.decision.allow with input as {"principal": carl, "action": "DescribeInstanceInformation"}
		with data.tether.deny_statements as no_prod
}

test_deny_malformed_fields_fail_closed if {
	every stmt in [
		{"sid": "M", "groups": "contractors"},
		{"sid": "M", "users": "carl"},
		{"sid": "M", "actions": "StartSession"},
		{"sid": "M", "users": ["dave"], "groups": "x"},
		{"sid": "M", "tags": "env=prod"},
		{"sid": "M", "documents": "*"},
	] {
		d := authz.decision with input as {"principal": carl, "action": "StartSession", "target": staging, "document": {"name": "d"}}
			with data.tether.deny_statements as [stmt]
		d.reasons == ["StartSession is denied by statement M"]
	}
}
