package control

import (
	"github.com/tetherhq/tether/streams/accounts"
	"github.com/tetherhq/tether/streams/wire/api"
)

// documentLimit is the request limit of verbs that carry a document: a document may be up
// to 64 KiB, and its JSON envelope needs room too.
const documentLimit = 2 * api.MaxRequest

// endpoints are every verb the control plane answers, each with the principals that call
// it and how it is authorized. A verb missing here does not exist.
func (s *Service) endpoints() []endpoint {
	limit := api.MaxRequest
	return []endpoint{
		// Sessions.
		policyVerb(s, api.VerbStartSession, api.VerbStartSession, limit, s.prepareStart, s.startSession, s.startDenied),
		policyVerb(s, api.VerbTerminateSession, api.VerbTerminateSession, limit,
			prepareSession(s, func(r *api.TerminateSessionRequest) string { return r.SessionID }), s.terminateSession),
		policyVerb(s, api.VerbResumeSession, api.VerbResumeSession, limit,
			prepareSession(s, func(r *api.ResumeSessionRequest) string { return r.SessionID }), s.resumeSession),
		policyVerb(s, api.VerbGetSession, api.VerbGetSession, limit,
			prepareSession(s, func(r *api.GetSessionRequest) string { return r.SessionID }), s.getSession),
		policyVerb(s, api.VerbReadTranscript, api.VerbReadTranscript, limit,
			prepareSession(s, func(r *api.ReadTranscriptRequest) string { return r.SessionID }), s.readTranscript),
		policyVerb(s, api.VerbDescribeSessions, api.VerbDescribeSessions, limit, checkDescribeSessions, s.describeSessions),

		// Instances and their activations.
		policyVerb(s, api.VerbDescribeInstances, api.VerbDescribeInstances, limit, checkDescribeInstances, s.describeInstances),
		policyVerb(s, api.VerbDeregisterInstance, api.VerbDeregisterInstance, limit, noInput[api.DeregisterInstanceRequest], s.deregisterInstance),
		policyVerb(s, api.VerbCreateActivation, api.VerbCreateActivation, limit, noInput[api.CreateActivationRequest], s.createActivation),
		policyVerb(s, api.VerbListActivations, api.VerbListActivations, limit, noInput[api.Empty], s.listActivations),
		policyVerb(s, api.VerbDeleteActivation, api.VerbDeleteActivation, limit, noInput[api.DeleteActivationRequest], s.deleteActivation),

		// Users.
		policyVerb(s, api.VerbWhoAmI, api.VerbWhoAmI, limit, noInput[api.Empty], s.whoAmI),
		policyVerb(s, api.VerbAddUser, api.VerbAddUser, limit, noInput[api.AddUserRequest], s.addUser),
		policyVerb(s, api.VerbListUsers, api.VerbListUsers, limit, noInput[api.Empty], s.listUsers),
		policyVerb(s, api.VerbRemoveUser, api.VerbRemoveUser, limit, noInput[api.RemoveUserRequest], s.removeUser),

		// Documents and preferences.
		policyVerb(s, api.VerbCreateDocument, api.VerbCreateDocument, documentLimit, prepareCreateDocument, s.createDocument),
		policyVerb(s, api.VerbUpdateDocument, api.VerbUpdateDocument, documentLimit, s.prepareVersion(api.VerbUpdateDocument), s.putVersion(api.VerbUpdateDocument)),
		policyVerb(s, api.VerbGetDocument, api.VerbGetDocument, limit, s.prepareGetDocument, s.getDocument),
		policyVerb(s, api.VerbListDocuments, api.VerbListDocuments, limit, noInput[api.ListDocumentsRequest], s.listDocuments),
		policyVerb(s, api.VerbDeleteDocument, api.VerbDeleteDocument, limit, s.prepareDeleteDocument, s.deleteDocument),
		policyVerb(s, api.VerbGetPreferences, api.VerbGetPreferences, limit, s.preparePreferences, s.getPreferences),
		policyVerb(s, api.VerbUpdatePreferences, api.VerbUpdatePreferences, documentLimit, s.prepareVersion(api.VerbUpdatePreferences), s.putVersion(api.VerbUpdatePreferences)),

		// Policy.
		policyVerb(s, api.VerbPushPolicy, api.VerbPushPolicy, api.MaxPolicyRequest, noInput[api.PushPolicyRequest], s.pushPolicy),
		policyVerb(s, api.VerbPolicyStatus, api.VerbPolicyStatus, limit, noInput[api.Empty], s.policyStatus),
		policyVerb(s, api.VerbEvaluatePolicy, api.VerbEvaluatePolicy, limit, prepareEvaluate, s.evaluatePolicy),

		// Recordings.
		policyVerb(s, api.VerbListRecordings, api.VerbListRecordings, limit, checkListRecordings, s.listRecordings),
		policyVerb(s, api.VerbGetRecording, api.VerbGetRecording, limit, s.prepareRecording, s.getRecording),
		policyVerb(s, api.VerbShipStatus, api.VerbShipStatus, limit, noInput[api.Empty], s.shipStatus),

		// Agents, about themselves.
		selfVerb(accounts.KindAgent, api.VerbRegister, limit, s.register),
		selfVerb(accounts.KindAgent, api.VerbHeartbeat, limit, s.heartbeat),
		selfVerb(accounts.KindAgent, api.VerbSessionEnded, limit, s.sessionEnded),
		selfVerb(accounts.KindEnrollment, "Enroll", limit, s.enroll),
	}
}
