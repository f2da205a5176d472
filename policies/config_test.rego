# Tests for config.rego: typos and wrong types in the library's data are found and
# named; good data has no problems. (Each test replaces single keys of data.tether:
# replacing data.tether whole would replace these tests too.)
package tether.authz_test

import data.tether.authz

test_shipped_data_is_valid if {
	count(authz.config_errors) == 0
}

test_empty_lists_are_valid if {
	count(authz.config_errors) == 0 with data.tether.target_grants as []
		with data.tether.deny_statements as []
		with data.tether.oncall as []
}

test_unknown_statement_key if {
	authz.config_errors == {`data.tether.target_grants[0]: unknown key "group" (known: actions, documents, groups, obligations, sessions, sid, tags, users)`} with data.tether.target_grants as [{"group": ["dev"], "tags": {"env": "staging"}}]
}

test_unknown_action_and_obligation if {
	errs := authz.config_errors with data.tether.target_grants as [{
		"groups": ["dev"], "actions": ["StartSesion"],
		"obligations": {"max_duration": "an hour", "idle": "5m"},
	}]
	errs == {
		`data.tether.target_grants[0].actions: unknown action "StartSesion"`,
		`data.tether.target_grants[0].obligations.max_duration: want a duration such as "30m", not "an hour"`,
		`data.tether.target_grants[0].obligations: unknown obligation "idle" (known: idle_timeout, max_duration, recording_required, run_as)`,
	}
}

test_wrong_types if {
	errs := authz.config_errors with data.tether.target_grants as [{"groups": "dev", "tags": {"env": 1}, "sessions": "all"}]
		with data.tether.deny_statements as {"sid": "x"}
		with data.tether.admin_groups as []
		with data.tether.document_access_check as "yes"
		with data.tether.document_grants as {"dev": "Tether-*"}
	errs == {
		"data.tether.target_grants[0].groups: want a list of strings",
		"data.tether.target_grants[0].tags: want an object of strings",
		`data.tether.target_grants[0].sessions: want "own" or "any", not "all"`,
		"data.tether.deny_statements: want a list of statements",
		"data.tether.admin_groups: want a non-empty list of strings",
		"data.tether.document_access_check: want true or false",
		"data.tether.document_grants.dev: want a list of document names",
	}
}

test_oncall_times if {
	errs := authz.config_errors with data.tether.oncall as [
		{"users": ["bob"], "from": "2025-03-03T09:00:00Z", "to": "next week"},
		{"users": ["bob"], "from": "2025-03-10T09:00:00Z", "to": "2025-03-03T09:00:00Z"},
		{"users": ["bob"], "to": "2025-03-03T09:00:00Z"},
	]
	errs == {
		`data.tether.oncall[0].to: want an RFC 3339 time, not "next week"`,
		"data.tether.oncall[1]: from is not before to",
		"data.tether.oncall[2].from: want an RFC 3339 time, not null",
	}
}

test_deny_statements_may_glob_actions if {
	count(authz.config_errors) == 0 with data.tether.deny_statements as [{"groups": ["c"], "actions": ["Start*"], "reason": "no"}]
}
