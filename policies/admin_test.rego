# Unit tests for admin.rego.
package tether.admin_test

import data.tether.authz

root := {"name": "root", "kind": "user", "groups": ["ops", "admins"]}

alice := {"name": "alice", "kind": "user", "groups": ["dev"]}

test_admin_may_do_every_known_action if {
	every action in authz.known_actions {
		d := authz.decision with input as {"principal": root, "action": action}
		d.allow
	}
}

test_admin_may_do_every_action_on_any_resource if {
	every action in authz.known_actions {
		d := authz.decision with input as {
			"principal": root, "action": action,
			"target": {"id": "i-9"}, "session": {"id": "bob-1", "owner": "bob", "target": "i-9"},
			"document": {"name": "Custom-Doc"}, "subject": {"name": "bob"},
		}
		d.allow
		d.reasons == []
	}
}

test_admin_groups_from_data if {
	sre := {"name": "sam", "groups": ["sre"]}
	d := authz.decision with input as {"principal": sre, "action": "PushPolicy"}
		with data.tether.admin_groups as ["sre", "platform"]
	d.allow
	d2 := authz.decision with input as {"principal": root, "action": "PushPolicy"}
		with data.tether.admin_groups as ["sre", "platform"]
	not d2.allow
	d2.reasons == ["PushPolicy requires membership in one of the groups sre, platform"]
}

test_no_admin_groups_no_admins if {
	d := authz.decision with input as {"principal": root, "action": "ListUsers"}
		with data.tether.admin_groups as []
	not d.allow
}

test_admin_actions_denied_to_users if {
	every action in authz.admin_actions {
		d := authz.decision with input as {"principal": alice, "action": action}
		not d.allow
		d.reasons == [sprintf("%s requires membership in the admins group", [action])]
	}
}

test_unknown_action_denied_to_admins if {
	d := authz.decision with input as {"principal": root, "action": "FormatDisk"}
	not d.allow
	d.reasons == [`unknown action "FormatDisk"`]
}

test_unknown_action_denied_even_if_granted if {
	d := authz.decision with input as {"principal": alice, "action": "FormatDisk"}
		with data.tether.target_grants as [{"groups": ["dev"], "actions": ["FormatDisk"]}]
	not d.allow
	d.reasons == [`unknown action "FormatDisk"`]
}

test_evaluate_policy_for_oneself if {
	d := authz.decision with input as {"principal": alice, "action": "EvaluatePolicy", "subject": {"name": "alice"}}
	d.allow
}

test_evaluate_policy_for_another_user if {
	d := authz.decision with input as {"principal": alice, "action": "EvaluatePolicy", "subject": {"name": "bob"}}
	not d.allow
	# The reason does not repeat the other user's name.
	d.reasons == ["EvaluatePolicy for another user requires membership in the admins group"]
}

test_evaluate_policy_empty_names_never_match if {
	d := authz.decision with input as {"principal": {"name": ""}, "action": "EvaluatePolicy", "subject": {"name": ""}}
	not d.allow
}
