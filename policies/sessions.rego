# Users manage only their own sessions, as SSM's end-user policy grants
# ssm:TerminateSession and ssm:ResumeSession on session/${aws:username}-*.
#
# A session is the caller's when its recorded owner is the caller, or, for a
# session with no recorded owner, when its id starts with "<caller>-" (the SSM
# pattern; with an owner recorded, the prefix alone never suffices, so bob cannot
# reach bob-smith's sessions).
#
# DescribeSessions is asked once without a session (may you list at all: yes,
# see authz.rego) and once per session with it: each user sees their own.
# Admins see and may act on every session (admin.rego). Statements in
# data.tether.target_grants may grant these verbs too (tagged_targets.rego).
package tether.authz

# Verbs on an existing session, with the phrase a denial uses for each.
owner_actions := {
	"TerminateSession": "terminate",
	"ResumeSession": "resume",
	"GetSession": "view",
	"ReadTranscript": "read the transcript of",
	"GetRecording": "read the recording of",
}

session_owned if {
	input.session.owner != ""
	input.session.owner == input.principal.name
}

session_owned if {
	object.get(input.session, "owner", "") == ""
	input.principal.name != ""
	startswith(input.session.id, concat("", [input.principal.name, "-"]))
}

# A request about one particular session: a session verb, or a DescribeSessions item.
session_request(action) if owner_actions[action]

session_request("DescribeSessions") if input.session

grant contains {"sid": "own-session", "obligations": {}} if {
	session_request(input.action)
	session_owned
}

not_granted contains sprintf("%s requires a session", [input.action]) if {
	owner_actions[input.action]
	not input.session
}

not_granted contains sprintf("only the session's owner or an admin may %s %s", [verb, session_label]) if {
	verb := owner_actions[input.action]
	input.session
	not session_owned
}

not_granted contains sprintf("only the session's owner or an admin may list %s", [session_label]) if {
	input.action == "DescribeSessions"
	input.session
	not session_owned
}
