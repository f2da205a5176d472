# Session documents, and SSM's session document access check
# (BoolIfExists ssm:SessionDocumentAccessCheck: true).
#
# Data:
#   data.tether.document_access_check  (default false) when true, StartSession
#       is allowed only with a document explicitly granted to the user, and
#       GetDocument, GetPreferences and ListDocuments items show only such
#       documents. Admins are exempt.
#   data.tether.document_grants  {group: [document name globs]}: the documents
#       granted to each group. A statement of data.tether.target_grants that
#       names documents grants them too (for the actions it lists).
#
# Everyone may read documents (GetDocument, GetPreferences, ListDocuments) while
# the check is off. Changing them (CreateDocument, UpdateDocument,
# DeleteDocument, UpdatePreferences) takes an admin or a statement granting
# that action on that document. The broker names the preferences document
# (Tether-SessionManagerRunShell) as the document of GetPreferences and
# UpdatePreferences.
package tether.authz

default document_access_check := false

document_access_check := data.tether.document_access_check

default document_grants := {}

document_grants := data.tether.document_grants

document_read_actions := {"GetDocument", "ListDocuments", "GetPreferences"}

document_write_actions := {"CreateDocument", "UpdateDocument", "DeleteDocument", "UpdatePreferences"}

# The document is explicitly granted to the user, for the action asked.
document_granted if {
	some g in input.principal.groups
	some pattern in document_grants[g]
	glob.match(pattern, null, input.document.name)
}

document_granted if {
	some s in target_grants
	has_key(s, "documents")
	statement_covers(s, input.action)
	statement_documents(s)
}

# Reading: ListDocuments without a document asks whether one may list at all.
grant contains {"sid": "read-documents", "obligations": {}} if {
	input.action in document_read_actions
	not input.document
}

grant contains {"sid": "read-documents", "obligations": {}} if {
	input.action in document_read_actions
	input.document
	document_access_check != true
}

grant contains {"sid": "document-grants", "obligations": {}} if {
	input.action in document_read_actions
	input.document
	document_access_check == true
	some g in input.principal.groups
	some pattern in document_grants[g]
	glob.match(pattern, null, input.document.name)
}

not_granted contains sprintf("document %s is not granted to you", [document_label]) if {
	input.action in document_read_actions
	input.document
}

# Changing documents: admins, or statements (tagged_targets.rego).
not_granted contains sprintf("%s requires %s or a grant for document %s", [input.action, admin_membership, document_label]) if {
	input.action in document_write_actions
	input.document
}

not_granted contains sprintf("%s requires a document", [input.action]) if {
	input.action in document_write_actions
	not input.document
}

# The access check. A deny, so that no other grant gets around it; admins are
# exempt as SSM's full access covers every document.
deny contains sprintf("document %s is not granted to you", [input.document.name]) if {
	input.action == "StartSession"
	document_access_check == true
	not is_admin
	input.document.name != ""
	not document_granted
}

deny contains "StartSession names no document, and the document access check requires one" if {
	input.action == "StartSession"
	document_access_check == true
	not is_admin
	object.get(input, ["document", "name"], "") == ""
}
