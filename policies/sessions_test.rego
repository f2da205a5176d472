# Unit tests for sessions.rego.
package tether.sessions_test

import data.tether.authz

alice := {"name": "alice", "kind": "user", "groups": ["dev"]}

bob := {"name": "bob", "kind": "user"}

root := {"name": "root", "kind": "user", "groups": ["admins"]}

alices := {"id": "alice-0a1b2c", "owner": "alice", "target": "i-1"}

decide(who, action, session) := d if {
	d := authz.decision with input as {"principal": who, "action": action, "session": session}
}

test_owner_may_act_on_own_session if {
	every action in object.keys(authz.owner_actions) {
		decide(alice, action, alices).allow
	}
}

test_others_may_not if {
	every action, verb in authz.owner_actions {
		d := decide(bob, action, alices)
		not d.allow
		d.reasons == [sprintf("only the session's owner or an admin may %s session alice-0a1b2c", [verb])]
	}
}

test_admin_may_act_on_any_session if {
	every action in object.keys(authz.owner_actions) {
		decide(root, action, alices).allow
	}
}

test_resume_others_session_denied if {
	d := decide(bob, "ResumeSession", alices)
	d.reasons == ["only the session's owner or an admin may resume session alice-0a1b2c"]
}

# The SSM pattern session/${aws:username}-*: for a session whose owner is not recorded.
test_id_prefix_without_owner if {
	decide(alice, "TerminateSession", {"id": "alice-77", "owner": "", "target": "i-1"}).allow
	decide(alice, "TerminateSession", {"id": "alice-77", "target": "i-1"}).allow
	not decide(alice, "TerminateSession", {"id": "alicex-77", "target": "i-1"}).allow
	not decide(alice, "TerminateSession", {"id": "alice", "target": "i-1"}).allow
}

# A recorded owner wins over the prefix: bob may not reach bob-smith's sessions.
test_id_prefix_with_other_owner if {
	d := decide(bob, "TerminateSession", {"id": "bob-smith-1", "owner": "bob-smith", "target": "i-1"})
	not d.allow
	d.reasons == ["only the session's owner or an admin may terminate session bob-smith-1"]
}

test_empty_name_never_owns if {
	not decide({"name": ""}, "GetSession", {"id": "-1", "owner": ""}).allow
}

test_session_verb_without_session if {
	d := authz.decision with input as {"principal": alice, "action": "ResumeSession"}
	d.reasons == ["ResumeSession requires a session"]
}

# DescribeSessions: everyone may list; each item is shown to its owner and admins.
test_describe_sessions_items if {
	authz.decision.allow with input as {"principal": bob, "action": "DescribeSessions"}
	decide(alice, "DescribeSessions", alices).allow
	decide(root, "DescribeSessions", alices).allow
	d := decide(bob, "DescribeSessions", alices)
	not d.allow
	d.reasons == ["only the session's owner or an admin may list session alice-0a1b2c"]
}

# A statement for session verbs covers one's own sessions unless it says "any".
test_statement_sessions_own_by_default if {
	grants := [{"groups": ["support"], "actions": ["TerminateSession", "DescribeSessions"]}]
	sue := {"name": "sue", "groups": ["support"]}
	not decide(sue, "TerminateSession", alices).allow with data.tether.target_grants as grants
	not decide(sue, "DescribeSessions", alices).allow with data.tether.target_grants as grants
}

test_statement_sessions_any if {
	grants := [{"groups": ["support"], "actions": ["TerminateSession", "DescribeSessions"], "sessions": "any"}]
	sue := {"name": "sue", "groups": ["support"]}
	decide(sue, "TerminateSession", alices).allow with data.tether.target_grants as grants
	decide(sue, "DescribeSessions", alices).allow with data.tether.target_grants as grants
	not decide(sue, "GetSession", alices).allow with data.tether.target_grants as grants
}

test_recordings_are_the_owners if {
	decide(alice, "GetRecording", alices).allow
	d := decide(bob, "GetRecording", alices)
	not d.allow
	d.reasons == ["only the session's owner or an admin may read the recording of session alice-0a1b2c"]
	authz.decision.allow with input as {"principal": bob, "action": "ListRecordings"}
	authz.decision.allow with input as {"principal": root, "action": "ShipStatus"}
	not authz.decision.allow with input as {"principal": alice, "action": "ShipStatus"}
}
