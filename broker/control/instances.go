package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// instanceEndpoints are the verbs on managed instances.
func (s *Service) instanceEndpoints() []endpoint {
	return []endpoint{
		// Asked once without a target, then once per instance listed (see permitted).
		policyVerb(s, api.VerbDescribeInstances, api.VerbDescribeInstances, api.MaxRequest, checkDescribeInstances, s.describeInstances),
		policyVerb(s, api.VerbDeregisterInstance, api.VerbDeregisterInstance, api.MaxRequest, noInput[api.DeregisterInstanceRequest], s.deregisterInstance),
	}
}

func checkDescribeInstances(_ context.Context, _ caller, r *api.DescribeInstancesRequest) (policies.Input, pageRequest, error) {
	if len(r.InstanceIDs) > 1000 {
		return policies.Input{}, pageRequest{}, badRequest("DescribeInstanceInformation: at most 1000 instance ids")
	}
	p, err := checkPage(api.VerbDescribeInstances, r.MaxResults, r.NextToken, false)
	return policies.Input{}, p, err
}

func (s *Service) describeInstances(ctx context.Context, c caller, r *api.DescribeInstancesRequest, pr pageRequest, d *decision) (any, error) {
	all, err := listJSON[storedInstance](ctx, s.b.Instances)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range r.InstanceIDs {
		want[id] = true
	}
	var asked []storedInstance
	for _, in := range all {
		if len(want) == 0 || want[in.ID] {
			asked = append(asked, in)
		}
	}
	// Which instances the caller sees is the policy's call, instance by instance.
	out := permitted(ctx, s, c, d, api.VerbDescribeInstances, asked, func(in storedInstance) policies.Input {
		return policies.Input{Target: targetInput(in)}
	})
	admin := s.dir.IsAdmin(c.principal.Groups)
	views := make([]api.Instance, 0, len(out))
	for _, stored := range out {
		in := stored.view(admin)
		in.PingStatus = api.PingConnectionLost
		if last, ok := s.lastSeenAt(in.ID); ok {
			in.LastHeartbeat = last
			if s.online(in.ID) {
				in.PingStatus = api.PingOnline
			}
		}
		views = append(views, in)
	}
	views, next := page(api.VerbDescribeInstances, views, func(in api.Instance) pageKey { return pageKey{ID: in.ID} }, pr)
	return api.DescribeInstancesResponse{Instances: views, NextToken: next}, nil
}

func (s *Service) deregisterInstance(ctx context.Context, c caller, r *api.DeregisterInstanceRequest, _ struct{}, _ *decision) (any, error) {
	if subjects.ValidName(r.ID) != nil {
		return nil, badRequest("DeregisterInstance: %.70q is not an instance id", r.ID)
	}
	if _, _, err := getJSON[storedInstance](ctx, s.b.Instances, r.ID); errors.Is(err, errNotFound) {
		return nil, notFound("no instance %.64q", r.ID)
	} else if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var ids []string
	for id, se := range s.active {
		if se.Target == r.ID {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.endOnAgent(ctx, id, api.ReasonTerminated, "instance deregistered by "+c.name)
	}
	if err := s.b.Instances.Delete(ctx, r.ID); err != nil {
		return nil, fmt.Errorf("delete instance %s: %w", r.ID, err)
	}
	s.revoke(s.dir.RemoveAgent(r.ID))
	return api.Empty{}, nil
}

func targetInput(in storedInstance) *policies.Target {
	return &policies.Target{ID: in.ID, Name: in.Name, Hostname: in.Hostname, OS: in.OS, Tags: in.Tags}
}
