# Unit tests for oncall.rego.
package tether.oncall_test

import data.tether.authz

alice := {"name": "alice", "kind": "user", "groups": ["dba"]}

bob := {"name": "bob", "kind": "user", "groups": ["dba"]}

db := {"id": "i-20", "name": "db-prod", "tags": {"env": "prod", "role": "db"}}

web := {"id": "i-21", "name": "web-prod", "tags": {"env": "prod", "role": "web"}}

shifts := [{
	"sid": "dba-oncall",
	"users": ["alice"],
	"tags": {"role": "db"},
	"from": "2025-03-03T09:00:00Z",
	"to": "2025-03-10T09:00:00Z",
}]

start(who, target, time) := d if {
	d := authz.decision with input as {"principal": who, "action": "StartSession", "target": target, "time": time}
		with data.tether.oncall as shifts
}

test_inside_shift if {
	d := start(alice, db, "2025-03-10T08:00:00Z")
	d.allow
	d.obligations == {"max_duration": "3600s"}
}

test_inside_shift_other_zone if {
	# 09:30 in UTC+1 is 08:30Z: 30 minutes left.
	d := start(alice, db, "2025-03-10T09:30:00+01:00")
	d.obligations == {"max_duration": "1800s"}
}

test_at_start_of_shift if {
	d := start(alice, db, "2025-03-03T09:00:00Z")
	d.allow
	d.obligations == {"max_duration": "604800s"}
}

test_just_before_end if {
	d := start(alice, db, "2025-03-10T08:59:59.5Z")
	d.allow
	d.obligations == {"max_duration": "500000000ns"}
	d2 := start(alice, db, "2025-03-10T08:59:58.5Z")
	d2.obligations == {"max_duration": "1s"}
}

test_at_end_of_shift if {
	d := start(alice, db, "2025-03-10T09:00:00Z")
	not d.allow
	d.reasons == [
		"target db-prod is not tagged for any of your groups or attributes",
		"your on-call shift for target db-prod is not in progress",
	]
}

test_before_shift if {
	d := start(alice, db, "2025-03-03T08:59:59Z")
	not d.allow
	"your on-call shift for target db-prod is not in progress" in d.reasons
}

test_other_targets if {
	d := start(alice, web, "2025-03-05T12:00:00Z")
	d.reasons == ["target web-prod is not tagged for any of your groups or attributes"]
}

test_other_users if {
	d := start(bob, db, "2025-03-05T12:00:00Z")
	not d.allow
	# Nothing about alice's shift.
	d.reasons == ["target db-prod is not tagged for any of your groups or attributes"]
}

test_by_group if {
	d := authz.decision with input as {"principal": bob, "action": "StartSession", "target": db, "time": "2025-03-05T12:00:00Z"}
		with data.tether.oncall as [object.union(shifts[0], {"users": [], "groups": ["dba"]})]
	d.allow
}

test_shift_limits_other_grants if {
	# A grant of its own for the same target: the shift's end still tightens the session.
	d := start(alice, db, "2025-03-10T08:00:00Z") with data.tether.target_grants as [{"users": ["alice"], "obligations": {"max_duration": "8h"}}]
	d.obligations == {"max_duration": "3600s"}
}

test_bad_times_grant_nothing if {
	bad := [object.union(shifts[0], {"to": "next week"})]
	d := authz.decision with input as {"principal": alice, "action": "StartSession", "target": db, "time": "2025-03-05T12:00:00Z"}
		with data.tether.oncall as bad
	not d.allow
}

test_shift_lists_its_targets if {
	d := authz.decision with input as {"principal": alice, "action": "DescribeInstanceInformation", "target": db, "time": "2025-03-05T12:00:00Z"}
		with data.tether.oncall as shifts
	d.allow
}
