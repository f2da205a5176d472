package control

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// activationEndpoints are the verbs on activations, with which agents enroll.
func (s *Service) activationEndpoints() []endpoint {
	return []endpoint{
		policyVerb(s, api.VerbCreateActivation, api.VerbCreateActivation, api.MaxRequest, noInput[api.CreateActivationRequest], s.createActivation),
		policyVerb(s, api.VerbListActivations, api.VerbListActivations, api.MaxRequest, noInput[api.Empty], s.listActivations),
		policyVerb(s, api.VerbDeleteActivation, api.VerbDeleteActivation, api.MaxRequest, noInput[api.DeleteActivationRequest], s.deleteActivation),
	}
}

const maxActivationLife = 30 * 24 * time.Hour

func validTags(what string, tags map[string]string) error {
	if len(tags) > 50 {
		return badRequest("%s: at most 50 entries", what)
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 || strings.ContainsAny(k, "\x00\n") || strings.ContainsAny(v, "\x00\n") {
			return badRequest("%s: entry %.40q=%.40q is invalid (key 1-128 bytes, value up to 256, no newlines)", what, k, v)
		}
	}
	return nil
}

func (s *Service) createActivation(ctx context.Context, c caller, r *api.CreateActivationRequest, _ struct{}, _ *decision) (any, error) {
	if r.Limit == 0 {
		r.Limit = 1
	}
	if r.Limit < 1 || r.Limit > 1000 {
		return nil, badRequest("CreateActivation: registration_limit must be 1-1000, not %d", r.Limit)
	}
	life := 24 * time.Hour
	if r.Expires != "" {
		d, err := time.ParseDuration(r.Expires)
		if err != nil || d <= 0 || d > maxActivationLife {
			return nil, badRequest("CreateActivation: expires %.64q must be a duration up to 720h (30 days)", r.Expires)
		}
		life = d
	}
	if r.DefaultInstanceName != "" {
		if err := subjects.ValidName(r.DefaultInstanceName); err != nil {
			return nil, badRequest("CreateActivation: default_instance_name: %v", err)
		}
	}
	if len(r.Description) > 256 {
		return nil, badRequest("CreateActivation: description longer than 256 bytes")
	}
	if err := validTags("CreateActivation: tags", r.Tags); err != nil {
		return nil, err
	}
	code, err := randomCode(20)
	if err != nil {
		return nil, err
	}
	id, err := randomCode(16)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := storedActivation{
		ID: "act-" + strings.ToLower(id), CodeHash: principals.HashCode(code), Description: r.Description,
		DefaultInstanceName: r.DefaultInstanceName, Tags: r.Tags, Limit: r.Limit,
		CreatedAt: now, ExpiresAt: now.Add(life), CreatedBy: c.name,
	}
	if err := createJSON(ctx, s.b.Activations, a.ID, a); err != nil {
		return nil, err
	}
	s.dir.PutActivation(a.gate())
	v := a.view()
	v.Code = code // once, to its creator
	return v, nil
}

func randomCode(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random code: %w", err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)[:n], nil
}

func (s *Service) listActivations(ctx context.Context, c caller, _ *api.Empty, _ struct{}, _ *decision) (any, error) {
	stored, err := listJSON[storedActivation](ctx, s.b.Activations)
	if err != nil {
		return nil, err
	}
	acts := make([]api.Activation, 0, len(stored))
	for _, a := range stored {
		acts = append(acts, a.view())
	}
	sort.Slice(acts, func(i, j int) bool { return acts[i].CreatedAt.Before(acts[j].CreatedAt) })
	return api.ListActivationsResponse{Activations: acts}, nil
}

func (s *Service) deleteActivation(ctx context.Context, c caller, r *api.DeleteActivationRequest, _ struct{}, _ *decision) (any, error) {
	if subjects.ValidName(r.ID) != nil {
		return nil, badRequest("DeleteActivation: %.64q is not an activation id", r.ID)
	}
	if _, _, err := getJSON[storedActivation](ctx, s.b.Activations, r.ID); errors.Is(err, errNotFound) {
		return nil, notFound("no activation %.64q", r.ID)
	}
	if err := s.b.Activations.Delete(ctx, r.ID); err != nil {
		return nil, fmt.Errorf("delete activation: %w", err)
	}
	s.dir.RemoveActivation(r.ID)
	return api.Empty{}, nil
}
