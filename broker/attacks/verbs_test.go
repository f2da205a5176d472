package attacks_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/jsdef"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// verbsDenyAll is a whole policy: it denies everything, to everyone.
const verbsDenyAll = `package tether.authz

decision := {"allow": false, "reasons": ["deny-all"]}
`

// verbsDoc is a valid session document.
const verbsDoc = `schemaVersion: '1.0'
description: Print a greeting
sessionType: NonInteractiveCommands
properties:
  linux:
    commands: echo hello
`

// verbsUser are the user verbs, by the name of their constant in package api.
var verbsUser = map[string]string{
	"VerbStartSession": api.VerbStartSession, "VerbTerminateSession": api.VerbTerminateSession,
	"VerbResumeSession": api.VerbResumeSession, "VerbGetSession": api.VerbGetSession,
	"VerbReadTranscript": api.VerbReadTranscript, "VerbDescribeSessions": api.VerbDescribeSessions,
	"VerbDescribeInstances": api.VerbDescribeInstances, "VerbDeregisterInstance": api.VerbDeregisterInstance,
	"VerbCreateActivation": api.VerbCreateActivation, "VerbListActivations": api.VerbListActivations,
	"VerbDeleteActivation": api.VerbDeleteActivation, "VerbWhoAmI": api.VerbWhoAmI,
	"VerbAddUser": api.VerbAddUser, "VerbListUsers": api.VerbListUsers, "VerbRemoveUser": api.VerbRemoveUser,
	"VerbCreateDocument": api.VerbCreateDocument, "VerbUpdateDocument": api.VerbUpdateDocument,
	"VerbGetDocument": api.VerbGetDocument, "VerbListDocuments": api.VerbListDocuments,
	"VerbDeleteDocument": api.VerbDeleteDocument, "VerbGetPreferences": api.VerbGetPreferences,
	"VerbUpdatePreferences": api.VerbUpdatePreferences, "VerbPushPolicy": api.VerbPushPolicy,
	"VerbPolicyStatus": api.VerbPolicyStatus, "VerbEvaluatePolicy": api.VerbEvaluatePolicy,
	"VerbListRecordings": api.VerbListRecordings, "VerbGetRecording": api.VerbGetRecording,
	"VerbShipStatus": api.VerbShipStatus,
}

// verbsAgent are the agents' verbs, likewise.
var verbsAgent = map[string]string{
	"VerbRegister": api.VerbRegister, "VerbHeartbeat": api.VerbHeartbeat, "VerbSessionEnded": api.VerbSessionEnded,
	"VerbForwardOpen": api.VerbForwardOpen, "VerbForwardClosed": api.VerbForwardClosed,
}

// verbsEndpoints reads the verbs endpoints.go declares, user and agent, by the names of
// their constants: the declarations are unexported, and a verb added there must be added
// to this suite too.
func verbsEndpoints(t *testing.T) (user, agent []string) {
	t.Helper()
	// Each resource's file declares its verbs (see control/endpoints.go).
	files, err := filepath.Glob(filepath.Join("..", "control", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	for _, m := range regexp.MustCompile(`policyVerb\(s, api\.(Verb\w+)`).FindAllStringSubmatch(string(src), -1) {
		user = append(user, m[1])
	}
	for _, m := range regexp.MustCompile(`(?:selfVerb\(accounts\.KindAgent, |ownerPolicyVerb\()api\.(Verb\w+)`).FindAllStringSubmatch(string(src), -1) {
		agent = append(agent, m[1])
	}
	if len(user) < 20 || len(agent) < 3 {
		t.Fatalf("read %d user and %d agent verbs from endpoints.go: has the form of the declarations changed?", len(user), len(agent))
	}
	return user, agent
}

// verbsDeclared are the user verbs endpoints.go declares, sorted; the test fails if this
// suite does not know one of them (or knows one it no longer declares).
func verbsDeclared(t *testing.T) []string {
	t.Helper()
	user, _ := verbsEndpoints(t)
	if got, want := slices.Sorted(slices.Values(user)), slices.Sorted(maps.Keys(verbsUser)); !slices.Equal(got, want) {
		t.Fatalf("endpoints.go declares the user verbs %v;\nthis suite knows %v", got, want)
	}
	var out []string
	for _, ident := range user {
		out = append(out, verbsUser[ident])
	}
	return slices.Sorted(slices.Values(out))
}

// Every user verb is decided by the policy before anything happens: with a policy that
// denies everything, every verb, called with a valid request about objects that exist, is
// refused with the policy's reason, to a user and to an admin alike, and nothing changes.
func TestVerbsEveryUserVerbAsksThePolicy(t *testing.T) {
	w := newWorld(t)
	a := w.agent(t, "web-1")
	a.keepAlive(100 * time.Millisecond)
	aliceSeed := w.AddUser("alice", nil, map[string]string{"env": "test"})
	alice := w.userWithSeed(t, "alice", aliceSeed)
	w.AddUser("bob", nil, nil)

	// The objects the verbs name, made under the shipped policy: an ended session with a
	// frame and a shipped recording, a document, an activation.
	se := w.startSession(t, alice.Conn, "alice", a.id)
	if _, err := a.publishFrame(t.Context(), se.Subjects.Out, 1, []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	if err := api.Call(t.Context(), a.Conn, subjects.AgentAPI(a.id, api.VerbSessionEnded),
		api.SessionEndedRequest{SessionID: se.Session.ID, Reason: api.ReasonExit, OutFrames: 1, OutBytes: 5}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Call(w.Admin, "admin", api.VerbCreateDocument, api.CreateDocumentRequest{Name: "Greet", Content: verbsDoc}, nil); err != nil {
		t.Fatal(err)
	}
	var prefs api.GetDocumentResponse
	if err := w.Call(w.Admin, "admin", api.VerbGetDocument, api.GetDocumentRequest{Name: api.DocPreferences}, &prefs); err != nil {
		t.Fatal(err)
	}
	act := w.Activation("spare", nil, 1)
	_, malloryKey := brokertest.NewKey(t)
	framesShipped(t, w, 1)

	requests := map[string]any{
		api.VerbStartSession:       api.StartSessionRequest{Target: a.id, Command: []string{"true"}},
		api.VerbTerminateSession:   api.TerminateSessionRequest{SessionID: se.Session.ID},
		api.VerbResumeSession:      api.ResumeSessionRequest{SessionID: se.Session.ID},
		api.VerbGetSession:         api.GetSessionRequest{SessionID: se.Session.ID},
		api.VerbReadTranscript:     api.ReadTranscriptRequest{SessionID: se.Session.ID},
		api.VerbDescribeSessions:   api.DescribeSessionsRequest{State: "History"},
		api.VerbDescribeInstances:  api.DescribeInstancesRequest{},
		api.VerbDeregisterInstance: api.DeregisterInstanceRequest{ID: a.id},
		api.VerbCreateActivation:   api.CreateActivationRequest{Limit: 1, Expires: "1h"},
		api.VerbListActivations:    api.Empty{},
		api.VerbDeleteActivation:   api.DeleteActivationRequest{ID: act.ID},
		api.VerbWhoAmI:             api.Empty{},
		api.VerbAddUser:            api.AddUserRequest{User: api.User{Name: "mallory", NKey: malloryKey}},
		api.VerbListUsers:          api.Empty{},
		api.VerbRemoveUser:         api.RemoveUserRequest{Name: "bob"},
		api.VerbCreateDocument:     api.CreateDocumentRequest{Name: "Greet2", Content: verbsDoc},
		api.VerbUpdateDocument:     api.UpdateDocumentRequest{Name: "Greet", Content: verbsDoc + "# v2\n"},
		api.VerbGetDocument:        api.GetDocumentRequest{Name: "Greet"},
		api.VerbListDocuments:      api.ListDocumentsRequest{},
		api.VerbDeleteDocument:     api.DeleteDocumentRequest{Name: "Greet"},
		api.VerbGetPreferences:     api.Empty{},
		api.VerbUpdatePreferences:  api.UpdateDocumentRequest{Content: prefs.Content + "\n# v2\n"},
		api.VerbPushPolicy: api.PushPolicyRequest{Files: []api.PolicyFile{
			{Path: "allow.rego", Content: "package tether.authz\n\ndecision := {\"allow\": true, \"reasons\": []}\n"}}},
		api.VerbPolicyStatus:   api.Empty{},
		api.VerbEvaluatePolicy: api.EvaluatePolicyRequest{Target: a.id},
		api.VerbListRecordings: api.ListRecordingsRequest{},
		api.VerbGetRecording:   api.GetRecordingRequest{SessionID: se.Session.ID},
		api.VerbShipStatus:     api.Empty{},
	}
	declared := verbsDeclared(t)
	if got := slices.Sorted(maps.Keys(requests)); !slices.Equal(got, declared) {
		t.Fatalf("this test calls %v;\nendpoints.go declares %v", got, declared)
	}

	// The same broker, its state and its users, under a policy that denies everything.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "deny.rego"), []byte(verbsDenyAll), 0o600); err != nil {
		t.Fatal(err)
	}
	w = &world{Server: w.Restart(
		func(o *brokerd.Options) { o.Logger = slog.New(w.logs) },
		func(o *brokerd.Options) { o.PolicyDir = dir },
	), logs: w.logs}
	alice = w.userWithSeed(t, "alice", aliceSeed)
	before := w.snapshot(t)

	for _, verb := range declared {
		req := requests[verb]
		for _, who := range []struct {
			name string
			c    *conn
		}{{"alice", alice}, {"admin", &conn{Conn: w.Admin, name: "admin"}}} {
			err := w.Call(who.c.Conn, who.name, verb, req, nil)
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != api.CodeAccessDenied || !slices.Equal(ae.Reasons, []string{"deny-all"}) {
				t.Errorf("%s as %s under a deny-all policy: %v; want AccessDenied (deny-all)", verb, who.name, err)
			}
		}
	}
	w.unchanged(t, before)
	// Each denial is in the audit stream.
	brokertest.WaitFor(t, 5*time.Second, "every denial audited", func() bool {
		return w.snapshot(t).streams[jsdef.StreamAudit].msgs >= before.streams[jsdef.StreamAudit].msgs+uint64(2*len(declared))
	})
}

// An agent's verbs are about itself only: it cannot end another agent's session, nor
// speak on its subjects, nor keep it alive; what it says in Register and Heartbeat changes
// its own record and sessions alone.
func TestVerbsAgentsActOnThemselvesOnly(t *testing.T) {
	w := newWorld(t)
	x := w.agent(t, "web-1")
	y := w.agent(t, "web-2")
	x.keepAlive(100 * time.Millisecond)
	yBeats := floodHeartbeats(t, y, 100*time.Millisecond, time.Second)
	floodLeave(t, w, x, y)
	_, agentVerbs := verbsEndpoints(t)
	if got, want := slices.Sorted(slices.Values(agentVerbs)), slices.Sorted(maps.Keys(verbsAgent)); !slices.Equal(got, want) {
		t.Fatalf("endpoints.go declares the agent verbs %v; this test covers %v", got, want)
	}
	alice := w.user(t, "alice", nil, map[string]string{"env": "test"})
	sx := w.startSession(t, alice.Conn, "alice", x.id)
	sy := w.startSession(t, alice.Conn, "alice", y.id)
	sessionOf := func(id string) api.Session {
		t.Helper()
		var got api.GetSessionResponse
		if err := w.Call(w.Admin, "admin", api.VerbGetSession, api.GetSessionRequest{SessionID: id}, &got); err != nil {
			t.Fatal(err)
		}
		return got.Session
	}
	before := w.snapshot(t)

	// SessionEnded, on its own subject, for y's session.
	err := api.Call(t.Context(), x.Conn, subjects.AgentAPI(x.id, api.VerbSessionEnded),
		api.SessionEndedRequest{SessionID: sy.Session.ID, Reason: api.ReasonExit}, nil)
	if !api.IsCode(err, api.CodeAccessDenied) {
		t.Errorf("x ending y's session: %v; want AccessDenied", err)
	}
	// Any verb on y's subjects: its permissions stop it before the control plane.
	for _, verb := range []string{api.VerbSessionEnded, api.VerbHeartbeat, api.VerbRegister, api.VerbForwardOpen, api.VerbForwardClosed} {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		err := api.Call(ctx, x.Conn, subjects.AgentAPI(y.id, verb), api.SessionEndedRequest{SessionID: sy.Session.ID}, nil)
		cancel()
		if err == nil {
			t.Errorf("x's %s on y's subject was answered", verb)
		}
		x.v.Has(t, subjects.AgentAPI(y.id, verb))
	}
	// A heartbeat naming y's session.
	if err := api.Call(t.Context(), x.Conn, subjects.AgentAPI(x.id, api.VerbHeartbeat),
		api.HeartbeatRequest{RunID: x.run, Sessions: []string{sx.Session.ID, sy.Session.ID}}, nil); err != nil {
		t.Errorf("x's heartbeat: %v", err)
	}
	w.unchanged(t, before)
	if got := sessionOf(sy.Session.ID); got.State != api.StateConnected {
		t.Fatalf("y's session is %s (%s) after x's attempts", got.State, got.Reason)
	}

	// Register, claiming y's session and another hostname: x's record changes, and x's
	// own session, which it no longer lists, ends; y's record and session do not.
	if err := api.Call(t.Context(), x.Conn, subjects.AgentAPI(x.id, api.VerbRegister),
		api.RegisterRequest{RunID: x.run, Hostname: "evil", OS: "linux", Arch: "amd64", AgentVersion: "test", Sessions: []string{sy.Session.ID}}, nil); err != nil {
		t.Fatalf("x's register: %v", err)
	}
	if got := sessionOf(sx.Session.ID); got.Reason != api.ReasonAgentRestarted {
		t.Errorf("x's own unlisted session: %s (%s); want ended, %s", got.State, got.Reason, api.ReasonAgentRestarted)
	}
	if got := sessionOf(sy.Session.ID); got.State != api.StateConnected {
		t.Errorf("y's session is %s (%s) after x registered naming it", got.State, got.Reason)
	}
	var insts api.DescribeInstancesResponse
	if err := w.Call(w.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{}, &insts); err != nil {
		t.Fatal(err)
	}
	for _, in := range insts.Instances {
		if want := map[string]string{x.id: "evil", y.id: "fake"}[in.ID]; in.Hostname != want {
			t.Errorf("instance %s has hostname %q; want %q", in.ID, in.Hostname, want)
		}
	}

	// Y falls silent; x heartbeats naming y's session all along: y's session still ends
	// as its agent's is lost.
	yBeats.stop()
	brokertest.WaitFor(t, 10*time.Second, "y's session to end as its agent is lost", func() bool {
		_ = api.Call(t.Context(), x.Conn, subjects.AgentAPI(x.id, api.VerbHeartbeat),
			api.HeartbeatRequest{RunID: x.run, Sessions: []string{sy.Session.ID}}, nil)
		return sessionOf(sy.Session.ID).Ended()
	})
	if got := sessionOf(sy.Session.ID); got.Reason != api.ReasonAgentLost {
		t.Errorf("y's session ended with %q; want %q", got.Reason, api.ReasonAgentLost)
	}
	if err := w.Call(w.Admin, "admin", api.VerbDescribeInstances, api.DescribeInstancesRequest{}, &insts); err != nil {
		t.Fatal(err)
	}
	for _, in := range insts.Instances {
		want := map[string]string{x.id: api.PingOnline, y.id: api.PingConnectionLost}[in.ID]
		if in.PingStatus != want {
			t.Errorf("instance %s is %s; want %s", in.ID, in.PingStatus, want)
		}
	}
	if l := floodLogLine(w, "agent connection lost", "instance_id="+x.id); l != "" {
		t.Errorf("x was taken for lost: %s", l)
	}
}

// Every verb's request is decoded strictly before anything else: a body with data after
// its JSON object is refused, whichever verb it is for.
func TestVerbsRefuseTrailingData(t *testing.T) {
	w := newWorld(t)
	alice := w.user(t, "alice", nil, nil)
	for _, body := range []string{`{}}`, `{}]`} {
		for _, verb := range verbsDeclared(t) {
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			m, err := alice.RequestWithContext(ctx, subjects.API("alice", verb), []byte(body))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			err = api.DecodeReply(m, nil)
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Code != api.CodeBadRequest || !strings.Contains(ae.Message, "data after the JSON value") {
				t.Errorf("%s with the body %s: %v; want BadRequest, data after the JSON value", verb, body, err)
			}
		}
	}
}
