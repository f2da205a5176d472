package control

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

const maxActivationLife = 30 * 24 * time.Hour

func unmarshal[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

func (s *Service) whoAmI(ctx context.Context, c caller, _ *api.Empty, _ struct{}, _ *decision) (any, error) {
	return api.WhoAmIResponse{Principal: c.principal}, nil
}

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

// PutUser validates and stores a user; brokercmd uses it to seed configured admins.
func (s *Service) PutUser(ctx context.Context, u api.User, create bool) (api.User, error) {
	if err := subjects.ValidName(u.Name); err != nil {
		return u, badRequest("user name: %v", err)
	}
	if !nkeys.IsValidPublicUserKey(u.NKey) {
		return u, badRequest("user %s: nkey %.60q is not an NKEY user public key (starts with U; make one with tether keygen)", u.Name, u.NKey)
	}
	if len(u.Groups) > 50 {
		return u, badRequest("user %s: at most 50 groups", u.Name)
	}
	for _, g := range u.Groups {
		if err := subjects.ValidName(g); err != nil {
			return u, badRequest("user %s: group: %v", u.Name, err)
		}
	}
	if err := validTags("user "+u.Name+": attributes", u.Attributes); err != nil {
		return u, err
	}
	if id, ok := s.dir.Resolve(u.NKey); ok && !(id.Kind == principals.KindUser && id.Name == u.Name) {
		return u, &api.Error{Code: api.CodeConflict, Message: "that nkey already belongs to another principal"}
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now().UTC()
	}
	var err error
	if create {
		err = createJSON(ctx, s.b.Users, u.Name, u)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return u, &api.Error{Code: api.CodeConflict, Message: "user " + u.Name + " already exists"}
		}
	} else {
		err = putJSON(ctx, s.b.Users, u.Name, u)
	}
	if err != nil {
		return u, err
	}
	s.dir.PutUser(u)
	return u, nil
}

func (s *Service) addUser(ctx context.Context, c caller, r *api.AddUserRequest, _ struct{}, _ *decision) (any, error) {
	r.User.CreatedAt = time.Time{}
	return s.PutUser(ctx, r.User, true)
}

func (s *Service) listUsers(ctx context.Context, c caller, _ *api.Empty, _ struct{}, _ *decision) (any, error) {
	users, err := listJSON[api.User](ctx, s.b.Users)
	if err != nil {
		return nil, err
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	return api.ListUsersResponse{Users: users}, nil
}

func (s *Service) removeUser(ctx context.Context, c caller, r *api.RemoveUserRequest, _ struct{}, _ *decision) (any, error) {
	if r.Name == c.name {
		return nil, badRequest("RemoveUser: you cannot remove yourself")
	}
	if _, ok := s.dir.User(r.Name); !ok {
		return nil, notFound("no user %.64q", r.Name)
	}
	if err := s.b.Users.Delete(ctx, r.Name); err != nil {
		return nil, fmt.Errorf("delete user: %w", err)
	}
	s.revoke(s.dir.RemoveUser(r.Name))
	// Their sessions end too: nobody may type into them any more.
	s.mu.Lock()
	var ids []string
	for id, se := range s.active {
		if se.Owner == r.Name {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.endOnAgent(ctx, id, api.ReasonTerminated, "user removed by "+c.name)
	}
	return api.Empty{}, nil
}
