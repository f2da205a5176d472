package control

import (
	"slices"

	"github.com/tetherhq/tether/streams/wire/api"
)

// documentLimit is the request limit of verbs that carry a document: a document may be up
// to 64 KiB, and its JSON envelope needs room too.
const documentLimit = 2 * api.MaxRequest

// endpoints are every verb the control plane answers. Each resource declares its own, in
// its own file, next to the handlers: the declaration says who calls the verb, how it is
// authorized (which policy action, on what decision input), and its request size limit.
// A verb missing here does not exist.
//
//	sessions.go     StartSession TerminateSession ResumeSession GetSession ReadTranscript DescribeSessions
//	instances.go    DescribeInstanceInformation DeregisterInstance
//	activations.go  CreateActivation ListActivations DeleteActivation
//	agents.go       Enroll Register Heartbeat SessionEnded (agents, about themselves)
//	forwardconn.go  ForwardOpen ForwardClosed (agents, about their port sessions' connections)
//	users.go        WhoAmI AddUser ListUsers RemoveUser
//	documents.go    CreateDocument UpdateDocument GetDocument ListDocuments DeleteDocument GetPreferences UpdatePreferences
//	policy.go       PushPolicy PolicyStatus EvaluatePolicy
//	recordings.go   ListRecordings GetRecording ShipStatus
func (s *Service) endpoints() []endpoint {
	return slices.Concat(
		s.sessionEndpoints(),
		s.instanceEndpoints(),
		s.activationEndpoints(),
		s.agentEndpoints(),
		s.forwardEndpoints(),
		s.userEndpoints(),
		s.documentEndpoints(),
		s.policyEndpoints(),
		s.recordingEndpoints(),
	)
}
