# Tether's shipped authorization policy: the framework.
#
# The broker queries data.tether.authz.decision once per request, with the
# input documented in policies/README.md, and gets back
# {"allow": bool, "reasons": [string], "obligations": {...}}.
#
# Every file of the library is in this package and adds to two sets:
#
#   grant contains {"sid": ..., "obligations": {...}}   a statement that allows the request
#   deny contains "public reason"                        an explicit deny; overrides any grant
#
# A request is allowed when something grants it and nothing denies it. A denied
# request's reasons are the explicit denies, or, when nothing granted it, the
# reasons the library gives in not_granted. Reasons are shown to the caller:
# they must not leak other users' data.
package tether.authz

# Every action the library knows, spelled out rather than computed so that
# evaluation does not rebuild it per request (test_known_actions_are_the_union
# keeps it in step with the sets of each file).
known_actions := {
	"StartSession",
	"DescribeSessions", "DescribeInstanceInformation", "WhoAmI",
	"TerminateSession", "ResumeSession", "GetSession", "ReadTranscript", "GetRecording",
	"ListRecordings", "ShipStatus",
	"GetDocument", "ListDocuments", "GetPreferences",
	"CreateDocument", "UpdateDocument", "DeleteDocument", "UpdatePreferences",
	"CreateActivation", "ListActivations", "DeleteActivation",
	"AddUser", "ListUsers", "RemoveUser", "DeregisterInstance",
	"PushPolicy", "PolicyStatus", "EvaluatePolicy",
	"ForwardConnection",
}

# Actions the broker asks about port forwarding (forward.rego).
forward_actions := {"ForwardConnection"}

# Verbs any user may call without naming a resource. For a list, the broker then
# asks again per item (see sessions.rego and tagged_targets.rego).
open_actions := {"DescribeSessions", "DescribeInstanceInformation", "WhoAmI", "ListRecordings"}

decision := {
	"allow": allow,
	"reasons": reasons,
	"obligations": decision_obligations,
}

# Default deny; deny overrides allow.
default allow := false

allow if {
	count(grant) > 0
	count(deny) == 0
}

reasons := sort(deny) if {
	count(deny) > 0
} else := [] if {
	allow
} else := sort(not_granted)

decision_obligations := obligations if allow

else := {}

# Everyone may ask who they are, and may list at all; what a list shows is
# decided per item.
grant contains {"sid": "open", "obligations": {}} if input.action == "WhoAmI"

grant contains {"sid": "open", "obligations": {}} if {
	input.action == "DescribeSessions"
	not input.session
}

grant contains {"sid": "open", "obligations": {}} if {
	input.action == "DescribeInstanceInformation"
	not input.target
}

# ListRecordings is asked once without a session; the broker then asks GetRecording for
# each recording it would show.
grant contains {"sid": "open", "obligations": {}} if {
	input.action == "ListRecordings"
	not input.session
}

# An unknown action is denied even to admins, so a verb the policy has never
# heard of is refused until someone writes a rule for it.

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

# Obligations: merged from every grant that matched, the tightest winning.
#   max_duration, idle_timeout: the shortest (compared as durations)
#   run_as: the one every grant that names one agrees on (else a deny)
#   recording_required: true if any grant requires it
# A value that is not understood is passed on as it is: the broker refuses a
# decision with an obligation it cannot parse, so it is never dropped.

# The obligations of the grants that have any. Most grants have none, and then
# nothing below is evaluated.
grant_obligations contains [g.sid, g.obligations] if {
	some g in grant
	g.obligations != {}
}

obligations := {} if {
	count(grant_obligations) == 0
} else := merged_obligations

duration_obligations := {"max_duration", "idle_timeout"}

merged_obligations[key] := tightest_duration(values) if {
	some key in duration_obligations
	values := {v | some [_, o] in grant_obligations; v := o[key]}
	count(values) > 0
}

merged_obligations.run_as := v if {
	count(run_as_values) == 1
	some v in run_as_values
}

merged_obligations.recording_required := merge_flags(values) if {
	values := {v | some [_, o] in grant_obligations; v := o.recording_required}
	count(values) > 0
}

# Any other key, as a list of the values it was given.
merged_obligations[key] := sort([v | some [_, o] in grant_obligations; v := o[key]]) if {
	some [_, o] in grant_obligations
	some key, _ in o
	not key in {"max_duration", "idle_timeout", "run_as", "recording_required"}
}

# Obligations that are not an object at all, by the sid of their grant.
merged_obligations.malformed := sort([sid | some [sid, o] in grant_obligations; not is_object(o)]) if {
	some [_, o] in grant_obligations
	not is_object(o)
}

run_as_values contains v if {
	some [_, o] in grant_obligations
	v := o.run_as
}

deny contains "conflicting run_as obligations" if count(run_as_values) > 1

valid_duration(d) if {
	is_string(d)
	time.parse_duration_ns(d)
}

# The shortest duration, or, when some value is not a duration, that value.
tightest_duration(values) := sort([v | some v in values; not valid_duration(v)])[0] if {
	some v in values
	not valid_duration(v)
} else := sort([v | some v in values; time.parse_duration_ns(v) == shortest])[0] if {
	shortest := min({time.parse_duration_ns(v) | some v in values})
}

merge_flags(values) := sort([v | some v in values; not is_boolean(v)])[0] if {
	some v in values
	not is_boolean(v)
} else := true if {
	true in values
} else := false

# How a denial names the target, the session and the document.
target_label := input.target.name if {
	input.target.name != ""
} else := input.target.id if {
	input.target.id != ""
} else := "(unnamed)"

session_label := sprintf("session %s", [input.session.id]) if {
	input.session.id != ""
} else := "this session"

document_label := input.document.name if {
	input.document.name != ""
} else := "(unnamed)"

# has_key holds when obj has key, whatever its value (false included).
has_key(obj, key) if {
	_ = obj[key]
}
