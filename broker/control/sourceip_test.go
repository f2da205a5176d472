package control_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tetherhq/tether/broker/brokerd"
	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/wire/api"
)

// onlyFrom is a policy that allows every request from ip and none from elsewhere.
func onlyFrom(t *testing.T, ip string) brokertest.Option {
	dir := t.TempDir()
	rego := `package tether.authz

decision := {"allow": allow, "reasons": ["only from ` + ip + `"], "obligations": {}}

default allow := false

allow if input.source_ip == "` + ip + `"
`
	if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(rego), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(o *brokerd.Options) { o.PolicyDir = dir }
}

// Every decision's input carries the address the caller's connection comes from: the
// test client connects over TCP from 127.0.0.1.
func TestSourceIPReachesThePolicy(t *testing.T) {
	srv := brokertest.NewServer(t, onlyFrom(t, "127.0.0.1"))
	var who api.WhoAmIResponse
	if err := srv.Call(srv.Admin, "admin", api.VerbWhoAmI, api.Empty{}, &who); err != nil {
		t.Fatalf("WhoAmI from 127.0.0.1 under a policy allowing 127.0.0.1: %v", err)
	}
	// A list's items are decided with it too.
	var ds api.DescribeSessionsResponse
	if err := srv.Call(srv.Admin, "admin", api.VerbDescribeSessions, api.DescribeSessionsRequest{State: "Active"}, &ds); err != nil {
		t.Fatalf("DescribeSessions: %v", err)
	}

	other := brokertest.NewServer(t, onlyFrom(t, "192.0.2.7"))
	err := other.Call(other.Admin, "admin", api.VerbWhoAmI, api.Empty{}, &who)
	if !api.IsCode(err, api.CodeAccessDenied) {
		t.Fatalf("WhoAmI from 127.0.0.1 under a policy allowing only 192.0.2.7: %v, want AccessDenied", err)
	}
}
