# Unit tests for authz.rego (the framework: default deny, deny overrides allow,
# reasons, obligation merging) and the behaviour the library kept from earlier
# releases. Run with `opa test policies/` or `go test ./policies/`.
package tether.authz_test

import data.tether.authz

alice := {"name": "alice", "kind": "user", "groups": ["dev"], "attributes": {"env": "staging"}}

root := {"name": "root", "kind": "user", "groups": ["ops", "admins"]}

nobody := {"name": "nobody", "kind": "user"}

web1 := {"id": "i-0001", "name": "web-1", "hostname": "web-1.internal", "os": "linux", "tags": {"access-groups": "ops, dev ,qa", "env": "prod"}}

db1 := {"id": "i-0002", "name": "db-1", "tags": {"access-groups": "dba", "env": "staging"}}

vault := {"id": "i-0003", "tags": {"env": "prod"}}

alices_session := {"id": "s-1", "owner": "alice", "target": "i-0001"}

roots_session := {"id": "s-2", "owner": "root", "target": "i-0001"}

allowed(d) if {
	d.allow == true
	d.reasons == []
	d.obligations == {}
}

denied(d, reasons) if {
	d.allow == false
	d.reasons == reasons
}

test_known_actions_are_the_union if {
	union := ((((({"StartSession"} | authz.open_actions) | object.keys(authz.owner_actions)) | authz.admin_actions) | authz.document_read_actions) | authz.document_write_actions) | authz.forward_actions
	authz.known_actions == union
	count(authz.known_actions) == 29
}

# Rule 1: admins may do every known action.

test_admin_may_do_every_action if {
	every action in authz.known_actions {
		allowed(authz.decision) with input as {"principal": root, "action": action}
	}
}

test_admin_may_start_session_on_untagged_target if {
	allowed(authz.decision) with input as {"principal": root, "action": "StartSession", "target": vault}
}

test_admin_may_terminate_others_session if {
	allowed(authz.decision) with input as {"principal": root, "action": "TerminateSession", "session": alices_session}
}

test_admins_group_name_is_exact if {
	d := authz.decision with input as {"principal": {"name": "eve", "groups": ["Admins", "admins-ro"]}, "action": "ListUsers"}
	denied(d, ["ListUsers requires membership in the admins group"])
}

# Rule 2: StartSession on tagged targets.

test_start_session_group_in_access_groups if {
	allowed(authz.decision) with input as {"principal": alice, "action": "StartSession", "target": web1}
}

test_start_session_access_groups_trimmed if {
	qa := {"name": "quinn", "groups": ["qa"]}
	allowed(authz.decision) with input as {"principal": qa, "action": "StartSession", "target": web1}
}

test_start_session_attribute_matches_tag if {
	allowed(authz.decision) with input as {"principal": alice, "action": "StartSession", "target": db1}
}

test_start_session_denied_without_match if {
	d := authz.decision with input as {"principal": alice, "action": "StartSession", "target": vault}
	denied(d, ["target i-0003 is not tagged for any of your groups or attributes"])
}

test_start_session_denied_names_target if {
	bob := {"name": "bob", "groups": ["sales"], "attributes": {"env": "dev"}}
	d := authz.decision with input as {"principal": bob, "action": "StartSession", "target": web1}
	denied(d, ["target web-1 is not tagged for any of your groups or attributes"])
}

test_start_session_denied_no_groups_or_attributes if {
	d := authz.decision with input as {"principal": nobody, "action": "StartSession", "target": web1}
	denied(d, ["target web-1 is not tagged for any of your groups or attributes"])
}

test_start_session_group_substring_does_not_match if {
	d := authz.decision with input as {"principal": {"name": "d", "groups": ["de"]}, "action": "StartSession", "target": web1}
	not d.allow
}

test_start_session_empty_attribute_does_not_match if {
	t := {"id": "i-9", "tags": {"team": ""}}
	d := authz.decision with input as {"principal": {"name": "e", "attributes": {"team": ""}}, "action": "StartSession", "target": t}
	denied(d, ["target i-9 is not tagged for any of your groups or attributes"])
}

test_start_session_attribute_value_must_match if {
	d := authz.decision with input as {"principal": {"name": "p", "attributes": {"env": "staging"}}, "action": "StartSession", "target": web1}
	denied(d, ["target web-1 is not tagged for any of your groups or attributes"])
}

test_start_session_target_without_tags if {
	d := authz.decision with input as {"principal": alice, "action": "StartSession", "target": {"id": "i-7"}}
	denied(d, ["target i-7 is not tagged for any of your groups or attributes"])
}

test_start_session_without_target if {
	d := authz.decision with input as {"principal": alice, "action": "StartSession"}
	denied(d, ["StartSession requires a target"])
}

# Rule 3: owner-only session actions.

test_owner_may_use_own_session if {
	every action in {"TerminateSession", "GetSession", "ReadTranscript"} {
		allowed(authz.decision) with input as {"principal": alice, "action": action, "session": alices_session}
	}
}

test_terminate_others_session_denied if {
	d := authz.decision with input as {"principal": alice, "action": "TerminateSession", "session": roots_session}
	denied(d, ["only the session's owner or an admin may terminate session s-2"])
}

test_get_others_session_denied if {
	d := authz.decision with input as {"principal": alice, "action": "GetSession", "session": roots_session}
	denied(d, ["only the session's owner or an admin may view session s-2"])
}

test_read_others_transcript_denied if {
	d := authz.decision with input as {"principal": alice, "action": "ReadTranscript", "session": roots_session}
	denied(d, ["only the session's owner or an admin may read the transcript of session s-2"])
}

test_empty_owner_never_matches_empty_name if {
	d := authz.decision with input as {"principal": {"name": ""}, "action": "GetSession", "session": {"owner": ""}}
	denied(d, ["only the session's owner or an admin may view this session"])
}

test_session_action_without_session if {
	d := authz.decision with input as {"principal": alice, "action": "ReadTranscript"}
	denied(d, ["ReadTranscript requires a session"])
}

# Rule 4: read-only actions for every user.

test_open_actions_for_every_user if {
	every action in {"DescribeSessions", "DescribeInstanceInformation", "WhoAmI"} {
		allowed(authz.decision) with input as {"principal": nobody, "action": action}
	}
}

# Rule 5: admin actions for admins only.

test_admin_actions_denied_to_users if {
	every action in authz.admin_actions {
		d := authz.decision with input as {"principal": alice, "action": action}
		denied(d, [sprintf("%s requires membership in the admins group", [action])])
	}
}

test_admin_actions_listed if {
	authz.admin_actions == {
		"CreateActivation", "ListActivations", "DeleteActivation",
		"AddUser", "ListUsers", "RemoveUser", "DeregisterInstance",
		"PushPolicy", "PolicyStatus", "EvaluatePolicy", "ShipStatus",
	}
}

# Rule 6: unknown actions are denied to everyone, naming the action.

test_unknown_action_denied if {
	d := authz.decision with input as {"principal": alice, "action": "FormatDisk"}
	denied(d, [`unknown action "FormatDisk"`])
}

test_unknown_action_denied_to_admins if {
	d := authz.decision with input as {"principal": root, "action": "startsession"}
	denied(d, [`unknown action "startsession"`])
}

test_missing_action_denied if {
	d := authz.decision with input as {"principal": root}
	denied(d, ["the request names no action"])
}

test_non_string_action_denied if {
	d := authz.decision with input as {"principal": root, "action": 7}
	denied(d, ["the request names no action"])
}

test_empty_action_denied if {
	d := authz.decision with input as {"principal": root, "action": ""}
	denied(d, ["the request names no action"])
}

test_empty_input_denied if {
	d := authz.decision with input as {}
	denied(d, ["the request names no action"])
}

# Reasons are a sorted array.

test_reasons_sorted if {
	d := authz.decision with input as {"principal": alice, "action": "FormatDisk"}
		with authz.deny as {"zeta", "alpha", "mu"}
	denied(d, ["alpha", "mu", "zeta"])
}

test_no_reasons_when_allowed if {
	d := authz.decision with input as {"principal": root, "action": "AddUser"}
		with authz.not_granted as {"ignored"}
	allowed(d)
}

# Deny overrides allow, for admins too; its reasons replace the not-granted ones.

test_deny_overrides_admin if {
	d := authz.decision with input as {"principal": root, "action": "AddUser"}
		with authz.deny as {"no"}
	denied(d, ["no"])
}

test_deny_reasons_replace_not_granted if {
	d := authz.decision with input as {"principal": alice, "action": "AddUser"}
		with authz.deny as {"b", "a"}
	denied(d, ["a", "b"])
}

test_nothing_granted_without_reason if {
	d := authz.decision with input as {"principal": alice, "action": "AddUser"}
		with authz.not_granted as set()
	denied(d, [])
}

test_denied_decision_has_no_obligations if {
	d := authz.decision with input as {"principal": alice, "action": "WhoAmI"}
		with authz.grant as {{"sid": "a", "obligations": {"max_duration": "1h"}}}
		with authz.deny as {"no"}
	d.obligations == {}
}

# Obligations merge, the tightest winning.

grants(obligations) := {{"sid": sprintf("g%d", [i]), "obligations": o} | some i, o in obligations}

merged(obligations) := d.obligations if {
	d := authz.decision with input as {"principal": alice, "action": "WhoAmI"}
		with authz.grant as grants(obligations)
	d.allow
}

test_obligations_shortest_duration if {
	merged([{"max_duration": "2h", "idle_timeout": "10m"}, {"max_duration": "90m"}, {}]) == {"max_duration": "90m", "idle_timeout": "10m"}
	merged([{"max_duration": "1h"}, {"max_duration": "3600s"}, {"max_duration": "61m"}]) == {"max_duration": "1h"}
	merged([{"idle_timeout": "500ms"}, {"idle_timeout": "1s"}]) == {"idle_timeout": "500ms"}
}

test_obligations_bad_duration_passed_on if {
	merged([{"max_duration": "1h"}, {"max_duration": "soon"}]) == {"max_duration": "soon"}
	merged([{"max_duration": "1h"}, {"max_duration": 60}]) == {"max_duration": 60}
}

test_obligations_run_as_agreed if {
	merged([{"run_as": "ec2-user"}, {"run_as": "ec2-user"}, {}]) == {"run_as": "ec2-user"}
}

test_obligations_run_as_conflict_denies if {
	d := authz.decision with input as {"principal": alice, "action": "WhoAmI"}
		with authz.grant as grants([{"run_as": "a"}, {"run_as": "b"}])
	denied(d, ["conflicting run_as obligations"])
}

test_obligations_recording_any_true if {
	merged([{"recording_required": false}, {"recording_required": true}]) == {"recording_required": true}
	merged([{"recording_required": false}]) == {"recording_required": false}
	merged([{"recording_required": true}, {"recording_required": "yes"}]) == {"recording_required": "yes"}
}

test_obligations_unknown_key_passed_on if {
	merged([{"mfa": true}, {"mfa": false}]) == {"mfa": [false, true]}
}

test_obligations_malformed_passed_on if {
	merged(["1h"]) == {"malformed": ["g0"]}
}
