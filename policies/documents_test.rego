# Unit tests for documents.rego.
package tether.documents_test

import data.tether.authz

alice := {"name": "alice", "kind": "user", "groups": ["dev"]}

root := {"name": "root", "kind": "user", "groups": ["admins"]}

web1 := {"id": "i-1", "name": "web-1", "tags": {"access-groups": "dev"}}

shell := {"name": "Tether-SessionManagerRunShell", "type": "Standard_Stream"}

ssh := {"name": "Tether-StartSSHSession", "type": "Port"}

custom := {"name": "Team-Tail-Logs", "type": "InteractiveCommands", "run_as_elevated": true}

decide(who, action, doc) := d if {
	d := authz.decision with input as {"principal": who, "action": action, "target": web1, "document": doc}
}

# With the check off (the shipped default), any document goes.
test_check_off_any_document if {
	not data.tether.document_access_check
	decide(alice, "StartSession", ssh).allow
	decide(alice, "StartSession", custom).allow
}

test_check_off_everyone_reads if {
	every action in authz.document_read_actions {
		decide({"name": "nobody"}, action, custom).allow
	}
	authz.decision.allow with input as {"principal": {"name": "nobody"}, "action": "ListDocuments"}
}

# With the check on: only granted documents.
test_check_on_granted if {
	d := decide(alice, "StartSession", shell) with data.tether.document_access_check as true
		with data.tether.document_grants as {"dev": ["Tether-SessionManagerRunShell", "Team-*"]}
	d.allow
	decide(alice, "StartSession", custom).allow with data.tether.document_access_check as true
		with data.tether.document_grants as {"dev": ["Tether-SessionManagerRunShell", "Team-*"]}
}

test_check_on_not_granted_names_document if {
	d := decide(alice, "StartSession", ssh) with data.tether.document_access_check as true
		with data.tether.document_grants as {"dev": ["Tether-SessionManagerRunShell"], "ops": ["*"]}
	not d.allow
	d.reasons == ["document Tether-StartSSHSession is not granted to you"]
}

test_check_on_nothing_granted if {
	d := decide(alice, "StartSession", shell) with data.tether.document_access_check as true
	d.reasons == ["document Tether-SessionManagerRunShell is not granted to you"]
}

test_check_on_no_document if {
	d := authz.decision with input as {"principal": alice, "action": "StartSession", "target": web1}
		with data.tether.document_access_check as true
	d.reasons == ["StartSession names no document, and the document access check requires one"]
}

# The check is not a grant: the target must still be open to the user.
test_check_on_still_needs_target if {
	d := authz.decision with input as {"principal": alice, "action": "StartSession", "target": {"id": "i-2"}, "document": shell}
		with data.tether.document_access_check as true
		with data.tether.document_grants as {"dev": ["*"]}
	d.reasons == ["target i-2 is not tagged for any of your groups or attributes"]
}

test_check_on_statement_documents_grant if {
	grants := [{"groups": ["dev"], "tags": {"access-groups": "dev"}, "documents": ["Tether-StartSSHSession"]}]
	decide(alice, "StartSession", ssh).allow with data.tether.document_access_check as true
		with data.tether.target_grants as grants
}

test_check_on_admins_exempt if {
	decide(root, "StartSession", ssh).allow with data.tether.document_access_check as true
}

test_check_on_reads_filtered if {
	grants := {"dev": ["Team-*"]}
	decide(alice, "GetDocument", custom).allow with data.tether.document_access_check as true
		with data.tether.document_grants as grants
	decide(alice, "ListDocuments", custom).allow with data.tether.document_access_check as true
		with data.tether.document_grants as grants
	d := decide(alice, "ListDocuments", ssh) with data.tether.document_access_check as true
		with data.tether.document_grants as grants
	not d.allow
	d.reasons == ["document Tether-StartSSHSession is not granted to you"]
	authz.decision.allow with input as {"principal": alice, "action": "ListDocuments"}
		with data.tether.document_access_check as true
}

# Changing documents: admins only by default.
test_document_writes_admins_only if {
	every action in authz.document_write_actions {
		decide(root, action, custom).allow
		d := decide(alice, action, custom)
		not d.allow
		d.reasons == [sprintf("%s requires membership in the admins group or a grant for document Team-Tail-Logs", [action])]
	}
}

test_document_write_without_document if {
	d := authz.decision with input as {"principal": alice, "action": "CreateDocument"}
	d.reasons == ["CreateDocument requires a document"]
}

test_document_writes_by_statement if {
	grants := [{"groups": ["dev"], "actions": ["CreateDocument", "UpdateDocument"], "documents": ["Team-*"]}]
	decide(alice, "UpdateDocument", custom).allow with data.tether.target_grants as grants
	not decide(alice, "DeleteDocument", custom).allow with data.tether.target_grants as grants
	not decide(alice, "UpdateDocument", shell).allow with data.tether.target_grants as grants
}
