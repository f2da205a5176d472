package events

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// fill sets every field of the struct v points to a non-zero value, recursively.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(uint64(i + 1))
		case reflect.Slice:
			s := reflect.MakeSlice(f.Type(), 2, 2)
			for j := range 2 {
				if e := s.Index(j); e.Kind() == reflect.Struct {
					fill(t, e)
				} else {
					e.SetString(string(rune('a' + j)))
				}
			}
			f.Set(s)
		case reflect.Pointer:
			p := reflect.New(f.Type().Elem())
			if p.Elem().Kind() == reflect.Struct {
				fill(t, p.Elem())
			} else {
				p.Elem().SetInt(int64(i + 1))
			}
			f.Set(p)
		case reflect.Struct:
			if f.Type() == reflect.TypeFor[time.Time]() {
				f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, i, 0, time.UTC)))
				continue
			}
			fill(t, f)
		default:
			t.Fatalf("fill: %s %s", v.Type().Field(i).Name, f.Kind())
		}
	}
}

// notPublished are the stored record's fields that events leave out, with why.
var notPublished = map[string]string{
	"Recording.Purged": "set by the broker long after the session's last event",
}

// TestEventCarriesEachRecordFieldOnPurpose fails when the stored record gains a field: the
// one adding it decides whether events publish it (Session and FromRecord) or not
// (notPublished), instead of the public schema changing by itself.
func TestEventCarriesEachRecordFieldOnPurpose(t *testing.T) {
	var rec api.Session
	fill(t, reflect.ValueOf(&rec).Elem())
	back := FromRecord(rec).Record()
	for _, name := range differing(reflect.ValueOf(rec), reflect.ValueOf(back), "") {
		if _, ok := notPublished[name]; !ok {
			t.Errorf("stored field %s does not reach events: publish it in events.Session or list it in notPublished", name)
		}
	}
}

func differing(a, b reflect.Value, prefix string) []string {
	var out []string
	for i := range a.NumField() {
		name := prefix + a.Type().Field(i).Name
		fa, fb := a.Field(i), b.Field(i)
		if fa.Kind() == reflect.Pointer && fa.Elem().Kind() == reflect.Struct && !fb.IsNil() {
			out = append(out, differing(fa.Elem(), fb.Elem(), name+".")...)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			out = append(out, name)
		}
	}
	return out
}

// TestEventSchema pins the JSON keys of an event's session: the schema subscribers read.
func TestEventSchema(t *testing.T) {
	var s Session
	fill(t, reflect.ValueOf(&s).Elem())
	body, err := json.Marshal(Data{Session: s})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Session map[string]json.RawMessage `json:"session"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(got.Session["recording"], &rec); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cols", "command", "connected_date", "detail", "document_name", "document_version",
		"end_date", "exit_code", "forwards", "idle_timeout", "interactive", "max_duration", "out_bytes",
		"out_frames", "owner", "reason", "recording", "rows", "run_as", "session_id",
		"session_type", "start_date", "state", "target", "terminated_by",
	}
	if keys := sortedKeys(got.Session); !slices.Equal(keys, want) {
		t.Errorf("event session keys\n got %q\nwant %q", keys, want)
	}
	wantRec := []string{"record_input", "retention", "s3_bucket_name", "s3_encryption_enabled", "s3_key_prefix", "streaming_enabled"}
	if keys := sortedKeys(rec); !slices.Equal(keys, wantRec) {
		t.Errorf("event recording keys\n got %q\nwant %q", keys, wantRec)
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestForwardEventSchema pins the JSON keys of a Forward event's connection.
func TestForwardEventSchema(t *testing.T) {
	var f ForwardConn
	fill(t, reflect.ValueOf(&f).Elem())
	body, err := json.Marshal(Data{Forward: &f})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Forward map[string]json.RawMessage `json:"forward"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"address", "bytes_in", "bytes_out", "closed_at", "conn_id", "dest", "detail", "document_name",
		"duration", "host", "opened_at", "owner", "peer", "port", "reason", "session_id", "target", "unix_socket",
	}
	if keys := sortedKeys(got.Forward); !slices.Equal(keys, want) {
		t.Errorf("forward event keys\n got %q\nwant %q", keys, want)
	}
}

// TestForwardEventID: a connection's event has one id however often it is reported, and
// another connection's another.
func TestForwardEventID(t *testing.T) {
	d := Data{Session: Session{ID: "alice-1"}, Forward: &ForwardConn{ConnID: 7}}
	if a, b := eventID(Forward, d), eventID(Forward, d); a != b || a != "fwd.alice-1.7" {
		t.Errorf("eventID = %q, %q; want fwd.alice-1.7 twice", a, b)
	}
	d.Forward = &ForwardConn{ConnID: 8}
	if got := eventID(Forward, d); got != "fwd.alice-1.8" {
		t.Errorf("eventID = %q, want fwd.alice-1.8", got)
	}
	if a, b := eventID(Started, d), eventID(Started, d); a == b {
		t.Errorf("started events share id %q", a)
	}
}
