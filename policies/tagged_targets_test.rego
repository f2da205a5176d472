# Unit tests for tagged_targets.rego, including the SSM examples shipped in data.json.
package tether.tagged_targets_test

import data.tether.authz

staging_user := {"name": "sara", "kind": "user", "groups": ["staging-users"]}

webadmin := {"name": "wade", "kind": "user", "groups": ["webserver-admins"]}

staging := {"id": "i-10", "name": "app-staging", "tags": {"Environment": "staging"}}

prod := {"id": "i-11", "name": "app-prod", "tags": {"Environment": "production"}}

finance_web := {"id": "i-12", "name": "fin-web", "tags": {"Finance": "WebServers"}}

shell := {"name": "Tether-SessionManagerRunShell", "type": "Standard_Stream"}

start(who, target) := d if {
	d := authz.decision with input as {"principal": who, "action": "StartSession", "target": target, "document": shell}
}

# SSM end-user example: StringLike ssm:resourceTag/Environment: staging.
test_staging_users_on_staging if {
	d := start(staging_user, staging)
	d.allow
	d.reasons == []
	# The shipped grant carries obligations.
	d.obligations == {"max_duration": "1h", "idle_timeout": "10m"}
}

test_staging_users_not_on_prod if {
	d := start(staging_user, prod)
	not d.allow
	d.reasons == ["target app-prod is not tagged for any of your groups or attributes"]
	d.obligations == {}
}

test_staging_users_may_resume_own_session_there if {
	d := authz.decision with input as {
		"principal": staging_user, "action": "ResumeSession", "target": staging,
		"session": {"id": "sara-1", "owner": "sara", "target": "i-10"},
	}
	d.allow
}

# SSM administrator example: Finance=WebServers, and the preferences document.
test_webserver_admins_on_finance_web if {
	d := start(webadmin, finance_web)
	d.allow
	d.obligations == {}
	not start(webadmin, staging).allow
}

test_webserver_admins_terminate_own_sessions_only if {
	own := {"id": "wade-1", "owner": "wade", "target": "i-12"}
	others := {"id": "sara-1", "owner": "sara", "target": "i-12"}
	authz.decision.allow with input as {"principal": webadmin, "action": "TerminateSession", "target": finance_web, "session": own}
	d := authz.decision with input as {"principal": webadmin, "action": "TerminateSession", "target": finance_web, "session": others}
	not d.allow
	d.reasons == ["only the session's owner or an admin may terminate session sara-1"]
}

test_webserver_admins_preferences if {
	every action in ["CreateDocument", "UpdateDocument", "GetDocument", "GetPreferences", "UpdatePreferences"] {
		authz.decision.allow with input as {"principal": webadmin, "action": action, "document": shell}
	}
}

test_webserver_admins_no_other_documents if {
	d := authz.decision with input as {"principal": webadmin, "action": "UpdateDocument", "document": {"name": "Custom-Doc"}}
	not d.allow
	d.reasons == ["UpdateDocument requires membership in the admins group or a grant for document Custom-Doc"]
	not authz.decision.allow with input as {"principal": webadmin, "action": "DeleteDocument", "document": shell}
}

test_preferences_not_for_staging_users if {
	d := authz.decision with input as {"principal": staging_user, "action": "UpdatePreferences", "document": shell}
	not d.allow
	d.reasons == ["UpdatePreferences requires membership in the admins group or a grant for document Tether-SessionManagerRunShell"]
}

# Statement semantics.

test_statement_by_user if {
	d := start({"name": "ann"}, prod) with data.tether.target_grants as [{"users": ["ann"], "tags": {"Environment": "prod*"}}]
	d.allow
}

test_statement_without_principals_applies_to_nobody if {
	not start({"name": "ann"}, prod).allow with data.tether.target_grants as [{"tags": {"Environment": "*"}}]
}

test_statement_all_tags_must_match if {
	grants := [{"users": ["ann"], "tags": {"Environment": "production", "team": "web"}}]
	not start({"name": "ann"}, prod).allow with data.tether.target_grants as grants
	tagged := {"id": "i-13", "tags": {"Environment": "production", "team": "web"}}
	start({"name": "ann"}, tagged).allow with data.tether.target_grants as grants
}

test_statement_globs_are_string_like if {
	grants := [{"users": ["ann"], "tags": {"Environment": "prod*", "path": "a/*"}}]
	t := {"id": "i-14", "tags": {"Environment": "production.eu", "path": "a/b/c.d"}}
	start({"name": "ann"}, t).allow with data.tether.target_grants as grants
	t2 := {"id": "i-15", "tags": {"Environment": "staging-prod", "path": "a/b"}}
	not start({"name": "ann"}, t2).allow with data.tether.target_grants as grants
}

test_statement_bad_glob_matches_nothing if {
	not start({"name": "ann"}, prod).allow with data.tether.target_grants as [{"users": ["ann"], "tags": {"Environment": "[prod"}}]
}

test_statement_without_tags_covers_every_target if {
	start({"name": "ann"}, prod).allow with data.tether.target_grants as [{"users": ["ann"]}]
}

test_statement_default_actions if {
	grants := [{"users": ["ann"]}]
	authz.decision.allow with input as {"principal": {"name": "ann"}, "action": "ResumeSession", "session": {"id": "ann-1", "owner": "ann"}}
		with data.tether.target_grants as grants
	not authz.decision.allow with input as {"principal": {"name": "ann"}, "action": "AddUser"}
		with data.tether.target_grants as grants
}

test_statement_documents if {
	grants := [{"users": ["ann"], "documents": ["Tether-StartPortForwarding*"]}]
	pf := {"name": "Tether-StartPortForwardingSession", "type": "Port"}
	authz.decision.allow with input as {"principal": {"name": "ann"}, "action": "StartSession", "target": prod, "document": pf}
		with data.tether.target_grants as grants
	d := start({"name": "ann"}, prod) with data.tether.target_grants as grants
	not d.allow
	d.reasons == ["document Tether-SessionManagerRunShell is not granted to you"]
}

test_statement_sid_defaults_to_index if {
	g := authz.grant with input as {"principal": {"name": "ann"}, "action": "StartSession", "target": prod}
		with data.tether.target_grants as [{"users": ["bob"]}, {"users": ["ann"]}]
	g == {{"sid": "target_grants[1]", "obligations": {}}}
}

test_statement_obligations_merge if {
	grants := [
		{"users": ["ann"], "obligations": {"max_duration": "8h", "run_as": "ann"}},
		{"users": ["ann"], "tags": {"Environment": "production"}, "obligations": {"max_duration": "30m", "recording_required": true}},
	]
	d := start({"name": "ann"}, prod) with data.tether.target_grants as grants
	d.allow
	d.obligations == {"max_duration": "30m", "run_as": "ann", "recording_required": true}
}

# The default rule: access-groups tag, or attribute = tag.

test_access_groups_tag if {
	t := {"id": "i-1", "tags": {"access-groups": "ops, dev"}}
	start({"name": "d", "groups": ["dev"]}, t).allow
	not start({"name": "d", "groups": ["de"]}, t).allow
}

test_attribute_matches_tag if {
	start({"name": "e", "attributes": {"Environment": "staging"}}, staging).allow
	not start({"name": "e", "attributes": {"Environment": "staging"}}, prod).allow
}

# DescribeInstanceInformation: everyone may list; items are the targets one could start on.

describe(who, target) := d if {
	d := authz.decision with input as {"principal": who, "action": "DescribeInstanceInformation", "target": target}
}

test_describe_instances_filtered if {
	authz.decision.allow with input as {"principal": staging_user, "action": "DescribeInstanceInformation"}
	describe(staging_user, staging).allow
	d := describe(staging_user, prod)
	not d.allow
	d.reasons == ["you may not start sessions on target app-prod"]
	describe({"name": "root", "groups": ["admins"]}, prod).allow
	describe({"name": "d", "groups": ["dev"]}, {"id": "i-1", "tags": {"access-groups": "dev"}}).allow
}

test_describe_instances_ignores_document_conditions if {
	grants := [{"users": ["ann"], "documents": ["Tether-StartSSHSession"]}]
	describe({"name": "ann"}, prod).allow with data.tether.target_grants as grants
}

test_describe_instances_statement_grants_listing if {
	grants := [{"groups": ["auditors"], "actions": ["DescribeInstanceInformation"]}]
	describe({"name": "al", "groups": ["auditors"]}, prod).allow with data.tether.target_grants as grants
}
