package control

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/tetherhq/tether/broker/principals"
	"github.com/tetherhq/tether/streams/wire/api"
	"github.com/tetherhq/tether/streams/wire/subjects"
)

// userEndpoints are the verbs on users.
func (s *Service) userEndpoints() []endpoint {
	return []endpoint{
		policyVerb(s, api.VerbWhoAmI, api.VerbWhoAmI, api.MaxRequest, noInput[api.Empty], s.whoAmI),
		policyVerb(s, api.VerbAddUser, api.VerbAddUser, api.MaxRequest, noInput[api.AddUserRequest], s.addUser),
		policyVerb(s, api.VerbListUsers, api.VerbListUsers, api.MaxRequest, noInput[api.Empty], s.listUsers),
		policyVerb(s, api.VerbRemoveUser, api.VerbRemoveUser, api.MaxRequest, noInput[api.RemoveUserRequest], s.removeUser),
	}
}

func (s *Service) whoAmI(ctx context.Context, c caller, _ *api.Empty, _ struct{}, _ *decision) (any, error) {
	return api.WhoAmIResponse{Principal: c.principal}, nil
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
