package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tetherhq/tether/broker/document"
	"github.com/tetherhq/tether/policies"
	"github.com/tetherhq/tether/streams/logkey"
	"github.com/tetherhq/tether/streams/wire/api"
)

// documentEndpoints are the verbs on documents and the preferences document. Each is
// decided by policy on the document it names.
func (s *Service) documentEndpoints() []endpoint {
	return []endpoint{
		policyVerb(s, api.VerbCreateDocument, api.VerbCreateDocument, documentLimit, prepareCreateDocument, s.createDocument),
		policyVerb(s, api.VerbUpdateDocument, api.VerbUpdateDocument, documentLimit, s.prepareVersion(api.VerbUpdateDocument), s.putVersion(api.VerbUpdateDocument)),
		policyVerb(s, api.VerbGetDocument, api.VerbGetDocument, api.MaxRequest, s.prepareGetDocument, s.getDocument),
		// Asked once without a document, then once per document listed (see permitted).
		policyVerb(s, api.VerbListDocuments, api.VerbListDocuments, api.MaxRequest, checkListDocuments, s.listDocuments),
		policyVerb(s, api.VerbDeleteDocument, api.VerbDeleteDocument, api.MaxRequest, s.prepareDeleteDocument, s.deleteDocument),
		policyVerb(s, api.VerbGetPreferences, api.VerbGetPreferences, api.MaxRequest, s.preparePreferences, s.getPreferences),
		policyVerb(s, api.VerbUpdatePreferences, api.VerbUpdatePreferences, documentLimit, s.prepareVersion(api.VerbUpdatePreferences), s.putVersion(api.VerbUpdatePreferences)),
	}
}

// storedDocument is one version of a document in the documents bucket, keyed by name.
// Older versions are the key's history.
type storedDocument struct {
	Name        string    `json:"name"`
	Format      string    `json:"format"`
	Content     string    `json:"content"`
	SessionType string    `json:"session_type"`
	Description string    `json:"description,omitempty"`
	Version     int       `json:"version"`
	Owner       string    `json:"owner"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
	CreatedAt   time.Time `json:"created_date"`
	UpdatedAt   time.Time `json:"updated_date"`
}

// loadedDocument is a document ready to run: its description and its parsed form.
type loadedDocument struct {
	desc api.DocumentDescription
	doc  *document.Document
}

// docCache keeps parsed documents by content hash, so a start does not parse YAML.
type docCache struct {
	mu sync.Mutex
	m  map[string]*document.Document
}

func (c *docCache) parse(content, format string) (*document.Document, error) {
	sum := sha256.Sum256([]byte(format + "\x00" + content))
	key := string(sum[:])
	c.mu.Lock()
	d, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := document.Parse([]byte(content), format)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 1024 {
		c.m = map[string]*document.Document{}
	}
	c.m[key] = d
	c.mu.Unlock()
	return d, nil
}

func hashContent(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

func describe(sd storedDocument, d *document.Document, latest int, builtin bool) api.DocumentDescription {
	sessionType, description, params := d.Describe()
	return api.DocumentDescription{
		Name: sd.Name, DocumentType: api.DocumentTypeSession, DocumentFormat: sd.Format,
		SessionType: sessionType, Description: description, Version: sd.Version, LatestVersion: latest,
		Builtin: builtin, Owner: sd.Owner, CreatedAt: sd.CreatedAt, UpdatedAt: sd.UpdatedAt,
		Hash: hashContent(sd.Content), Parameters: params,
	}
}

// builtinDocument is a built-in as version 1 of a stored document.
func builtinDocument(name string) (storedDocument, bool) {
	b, ok := document.LookupBuiltin(name)
	if !ok {
		return storedDocument{}, false
	}
	return storedDocument{Name: b.Name, Format: api.FormatYAML, Content: b.Content, Version: 1, Owner: "tether"}, true
}

// loadDocument finds a document's latest version (version 0) or the given one: a stored
// document, else a built-in.
func (s *Service) loadDocument(ctx context.Context, name string, version int) (loadedDocument, error) {
	if err := document.ValidName(name); err != nil {
		return loadedDocument{}, badRequest("document name: %v", err)
	}
	sd, latest, found, err := s.storedDocument(ctx, name, version)
	if err != nil {
		return loadedDocument{}, err
	}
	builtin := false
	if !found {
		b, ok := builtinDocument(name)
		if !ok || version > 1 {
			if version > 0 && (ok || latest > 0) {
				return loadedDocument{}, notFound("document %s has no version %d", name, version)
			}
			return loadedDocument{}, notFound("no document %.64q (see tether list-documents)", name)
		}
		sd, latest, builtin = b, 1, true
	}
	d, err := s.docCache.parse(sd.Content, sd.Format)
	if err != nil {
		// Stored documents were validated when written; a failure here is a broker bug
		// or a document written by an older, laxer broker.
		return loadedDocument{}, fmt.Errorf("parse stored document %s version %d: %w", name, sd.Version, err)
	}
	return loadedDocument{desc: describe(sd, d, latest, builtin), doc: d}, nil
}

// storedDocument reads a stored document: the latest version (version 0) or the given
// one from the key's history. latest is the latest version number, 0 if none is stored.
func (s *Service) storedDocument(ctx context.Context, name string, version int) (sd storedDocument, latest int, found bool, err error) {
	cur, _, err := getJSON[storedDocument](ctx, s.b.Documents, name)
	if errors.Is(err, errNotFound) {
		return sd, 0, false, nil
	}
	if err != nil {
		return sd, 0, false, err
	}
	if version == 0 || version == cur.Version {
		return cur, cur.Version, true, nil
	}
	hist, err := s.b.Documents.History(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return sd, cur.Version, false, fmt.Errorf("read history of document %s: %w", name, err)
	}
	for _, e := range hist {
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var v storedDocument
		if json.Unmarshal(e.Value(), &v) == nil && v.Version == version {
			return v, cur.Version, true, nil
		}
	}
	return sd, cur.Version, false, nil
}

// parseVersion reads a --document-version: "", "$LATEST" or a positive number.
func parseVersion(v string) (int, error) {
	if v == "" || v == "$LATEST" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest("document_version %.64q: want $LATEST or a version number", v)
	}
	return n, nil
}

// checkContent validates a document's content before it is stored.
func checkContent(verb, name, content, format string) (*document.Document, string, error) {
	switch strings.ToUpper(format) {
	case "", api.FormatYAML:
		format = api.FormatYAML
	case api.FormatJSON:
		format = api.FormatJSON
	default:
		return nil, "", badRequest("%s: document_format %.64q: want YAML or JSON", verb, format)
	}
	if content == "" {
		return nil, "", badRequest("%s: content is required", verb)
	}
	d, err := document.Parse([]byte(content), format)
	if err != nil {
		return nil, "", badRequest("%s: document %s: %v", verb, name, err)
	}
	return d, format, nil
}

func docInput(desc api.DocumentDescription) *policies.Document {
	return &policies.Document{Name: desc.Name, Type: desc.SessionType, Version: desc.Version}
}

// newDocument is a document's content as checked before the decision.
type newDocument struct {
	doc         *document.Document
	format      string
	sessionType string
	description string
}

func prepareCreateDocument(_ context.Context, _ caller, r *api.CreateDocumentRequest) (policies.Input, newDocument, error) {
	var nd newDocument
	if err := document.ValidName(r.Name); err != nil {
		return policies.Input{}, nd, badRequest("CreateDocument: name: %v", err)
	}
	if r.DocumentType != "" && r.DocumentType != api.DocumentTypeSession {
		return policies.Input{}, nd, badRequest("CreateDocument: document_type %.32q: Tether stores only Session documents", r.DocumentType)
	}
	d, format, err := checkContent(api.VerbCreateDocument, r.Name, r.Content, r.DocumentFormat)
	if err != nil {
		return policies.Input{}, nd, err
	}
	nd = newDocument{doc: d, format: format}
	nd.sessionType, nd.description, _ = d.Describe()
	return policies.Input{Document: &policies.Document{Name: r.Name, Type: nd.sessionType, Version: 1}}, nd, nil
}

func (s *Service) createDocument(ctx context.Context, c caller, r *api.CreateDocumentRequest, nd newDocument, _ *decision) (any, error) {
	d, format, sessionType, description := nd.doc, nd.format, nd.sessionType, nd.description
	if document.Reserved(r.Name) {
		return nil, badRequest("CreateDocument: the name %s is reserved: names starting with Tether-, AWS- or SSM- belong to built-in documents", r.Name)
	}
	now := s.now().UTC()
	sd := storedDocument{
		Name: r.Name, Format: format, Content: r.Content, SessionType: sessionType, Description: description,
		Version: 1, Owner: c.name, CreatedAt: now, UpdatedAt: now,
	}
	if err := createJSON(ctx, s.b.Documents, r.Name, sd); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("document %s already exists; use update-document", r.Name)}
		}
		return nil, err
	}
	s.log.Info("document created", logkey.Document, r.Name, logkey.User, c.name)
	return api.DocumentResponse{Document: describe(sd, d, 1, false)}, nil
}

// versionState is what a new version of a document is decided on: its content, and the
// version it follows.
type versionState struct {
	newDocument
	base, latest int
	cur          storedDocument
	found        bool
}

// prepareVersion checks a new version of a document (an update, or a change of the
// preferences document) and loads the version it follows.
func (s *Service) prepareVersion(verb string) prepareFunc[api.UpdateDocumentRequest, versionState] {
	return func(ctx context.Context, _ caller, r *api.UpdateDocumentRequest) (policies.Input, versionState, error) {
		var st versionState
		if verb == api.VerbUpdatePreferences {
			if r.Name == "" {
				r.Name = api.DocPreferences
			}
			if r.Name != api.DocPreferences {
				return policies.Input{}, st, badRequest("UpdatePreferences: name must be %s (or empty), not %.80q", api.DocPreferences, r.Name)
			}
		}
		if err := document.ValidName(r.Name); err != nil {
			return policies.Input{}, st, badRequest("%s: name: %v", verb, err)
		}
		base, err := parseVersion(r.DocumentVersion)
		if err != nil {
			return policies.Input{}, st, err
		}
		d, format, err := checkContent(verb, r.Name, r.Content, r.DocumentFormat)
		if err != nil {
			return policies.Input{}, st, err
		}
		st = versionState{newDocument: newDocument{doc: d, format: format}, base: base}
		st.sessionType, st.description, _ = d.Describe()
		st.cur, st.latest, st.found, err = s.storedDocument(ctx, r.Name, 0)
		if err != nil {
			return policies.Input{}, st, err
		}
		if !st.found {
			b, ok := builtinDocument(r.Name)
			if !ok {
				return policies.Input{}, st, notFound("no document %.64q: create it first", r.Name)
			}
			st.cur, st.latest = b, 1
		}
		return policies.Input{Document: &policies.Document{Name: r.Name, Type: st.sessionType, Version: st.latest + 1}}, st, nil
	}
}

// putVersion stores a new version of a document, authorized as verb.
func (s *Service) putVersion(verb string) handleFunc[api.UpdateDocumentRequest, versionState] {
	return func(ctx context.Context, c caller, r *api.UpdateDocumentRequest, st versionState, _ *decision) (any, error) {
		return s.storeVersion(ctx, c, verb, r, st)
	}
}

func (s *Service) storeVersion(ctx context.Context, c caller, verb string, r *api.UpdateDocumentRequest, st versionState) (any, error) {
	d, format, sessionType, description := st.doc, st.format, st.sessionType, st.description
	base, latest, cur, found := st.base, st.latest, st.cur, st.found
	if document.Reserved(r.Name) && r.Name != api.DocPreferences {
		return nil, badRequest("%s: %s is a built-in document and cannot be changed; copy it under a name of your own", verb, r.Name)
	}
	if curType := s.sessionTypeOf(cur); curType != sessionType {
		return nil, badRequest("%s: document %s is a %s document; a new version cannot change its sessionType to %s", verb, r.Name, curType, sessionType)
	}
	if base != 0 && base != latest {
		return nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("document %s is at version %d, not %d: get it again and reapply your change", r.Name, latest, base)}
	}
	if hashContent(cur.Content) == hashContent(r.Content) && cur.Format == format {
		return nil, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("document %s version %d already has this content", r.Name, latest)}
	}
	now := s.now().UTC()
	next := storedDocument{
		Name: r.Name, Format: format, Content: r.Content, SessionType: sessionType, Description: description,
		Version: latest + 1, Owner: cur.Owner, UpdatedBy: c.name, CreatedAt: cur.CreatedAt, UpdatedAt: now,
	}
	if next.CreatedAt.IsZero() {
		next.CreatedAt = now
	}
	if err := s.writeVersion(ctx, next, found); err != nil {
		return nil, err
	}
	s.log.Info("document updated", logkey.Document, r.Name, logkey.Version, next.Version, logkey.User, c.name)
	return api.DocumentResponse{Document: describe(next, d, next.Version, false)}, nil
}

// writeVersion stores next only if nobody stored another version first.
func (s *Service) writeVersion(ctx context.Context, next storedDocument, exists bool) error {
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if !exists {
		_, err = s.b.Documents.Create(ctx, next.Name, b)
	} else {
		var e jetstream.KeyValueEntry
		if e, err = s.b.Documents.Get(ctx, next.Name); err == nil {
			var cur storedDocument
			if err = json.Unmarshal(e.Value(), &cur); err == nil {
				if cur.Version != next.Version-1 {
					return &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("document %s changed while updating; retry", next.Name)}
				}
				_, err = s.b.Documents.Update(ctx, next.Name, b, e.Revision())
			}
		}
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSeq(err) {
		return &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("document %s changed while updating; retry", next.Name)}
	}
	if err != nil {
		return fmt.Errorf("store document %s: %w", next.Name, err)
	}
	return nil
}

// sessionTypeOf is a stored document's sessionType ("" if it no longer parses).
func (s *Service) sessionTypeOf(sd storedDocument) string {
	d, err := s.docCache.parse(sd.Content, sd.Format)
	if err != nil {
		return ""
	}
	return d.SessionType()
}

func (s *Service) prepareGetDocument(ctx context.Context, _ caller, r *api.GetDocumentRequest) (policies.Input, loadedDocument, error) {
	version, err := parseVersion(r.DocumentVersion)
	if err != nil {
		return policies.Input{}, loadedDocument{}, err
	}
	ld, err := s.loadDocument(ctx, r.Name, version)
	if err != nil {
		return policies.Input{}, ld, err
	}
	return policies.Input{Document: docInput(ld.desc)}, ld, nil
}

func (s *Service) getDocument(ctx context.Context, _ caller, _ *api.GetDocumentRequest, ld loadedDocument, _ *decision) (any, error) {
	content, err := s.documentContent(ctx, ld.desc)
	if err != nil {
		return nil, err
	}
	return api.GetDocumentResponse{Document: ld.desc, Content: content}, nil
}

func (s *Service) documentContent(ctx context.Context, desc api.DocumentDescription) (string, error) {
	if desc.Builtin {
		b, _ := builtinDocument(desc.Name)
		return b.Content, nil
	}
	sd, _, found, err := s.storedDocument(ctx, desc.Name, desc.Version)
	if err != nil {
		return "", err
	}
	if !found {
		return "", notFound("document %s version %d is gone", desc.Name, desc.Version)
	}
	return sd.Content, nil
}

func checkListDocuments(_ context.Context, _ caller, r *api.ListDocumentsRequest) (policies.Input, pageRequest, error) {
	p, err := checkPage(api.VerbListDocuments, r.MaxResults, r.NextToken, false)
	return policies.Input{}, p, err
}

func (s *Service) listDocuments(ctx context.Context, c caller, r *api.ListDocumentsRequest, pr pageRequest, dec *decision) (any, error) {
	stored, err := listJSON[storedDocument](ctx, s.b.Documents)
	if err != nil {
		return nil, err
	}
	byName := map[string]api.DocumentDescription{}
	for _, b := range document.Builtins() {
		if ld, err := s.loadDocument(ctx, b.Name, 0); err == nil {
			byName[b.Name] = ld.desc
		}
	}
	for _, sd := range stored {
		d, err := s.docCache.parse(sd.Content, sd.Format)
		if err != nil {
			s.log.Error("stored document does not parse", logkey.Document, sd.Name, logkey.Err, err)
			continue
		}
		byName[sd.Name] = describe(sd, d, sd.Version, false)
	}
	var asked []api.DocumentDescription
	for _, desc := range byName {
		if r.SessionType == "" || desc.SessionType == r.SessionType {
			asked = append(asked, desc)
		}
	}
	out := permitted(ctx, s, c, dec, api.VerbListDocuments, asked, func(desc api.DocumentDescription) policies.Input {
		return policies.Input{Document: docInput(desc)}
	})
	out, next := page(api.VerbListDocuments, out, func(d api.DocumentDescription) pageKey { return pageKey{ID: d.Name} }, pr)
	return api.ListDocumentsResponse{Documents: out, NextToken: next}, nil
}

func (s *Service) prepareDeleteDocument(ctx context.Context, _ caller, r *api.DeleteDocumentRequest) (policies.Input, loadedDocument, error) {
	ld, err := s.loadDocument(ctx, r.Name, 0)
	if err != nil {
		return policies.Input{}, ld, err
	}
	return policies.Input{Document: docInput(ld.desc)}, ld, nil
}

func (s *Service) deleteDocument(ctx context.Context, c caller, r *api.DeleteDocumentRequest, ld loadedDocument, _ *decision) (any, error) {
	if ld.desc.Builtin || document.Reserved(r.Name) {
		return nil, badRequest("DeleteDocument: %s is a built-in document and cannot be deleted", r.Name)
	}
	// Purge: every version goes, so a later document of the same name starts afresh.
	if err := s.b.Documents.Purge(ctx, r.Name); err != nil {
		return nil, fmt.Errorf("delete document %s: %w", r.Name, err)
	}
	s.log.Info("document deleted", logkey.Document, r.Name, logkey.User, c.name)
	return api.Empty{}, nil
}

// preferences are the inputs of the preferences document in force.
func (s *Service) preferences(ctx context.Context) (loadedDocument, api.Preferences, error) {
	ld, err := s.loadDocument(ctx, api.DocPreferences, 0)
	if err != nil {
		return ld, api.Preferences{}, err
	}
	return ld, ld.doc.Preferences(), nil
}

func (s *Service) preparePreferences(ctx context.Context, _ caller, _ *api.Empty) (policies.Input, loadedDocument, error) {
	ld, _, err := s.preferences(ctx)
	if err != nil {
		return policies.Input{}, ld, err
	}
	return policies.Input{Document: docInput(ld.desc)}, ld, nil
}

func (s *Service) getPreferences(_ context.Context, _ caller, _ *api.Empty, ld loadedDocument, _ *decision) (any, error) {
	return api.GetPreferencesResponse{Document: ld.desc, Preferences: ld.doc.Preferences()}, nil
}
