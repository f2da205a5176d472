package ship_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/broker/brokertest"
	"github.com/tetherhq/tether/streams/ship"
	"github.com/tetherhq/tether/streams/wire/api"
)

// Events and audit records are archived as hourly JSON Lines, each message once: a second
// pass writes nothing new, and what comes later goes into the next object.
func TestArchiverWritesHourlyJSONLines(t *testing.T) {
	s, js, b, dir, root := noShipServer(t)
	later := func() time.Time { return time.Now().Add(2 * time.Hour) } // every hour so far is over
	a, err := ship.NewArchiver(ship.ArchiveConfig{JS: js, Index: b.Recordings, Uploader: dir, Prefix: "logs", Now: later})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := run(t, s, "web-1", "echo", "archived")
	count := func(folder string) (lines []string) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(root, "logs", folder, "*", "*", "*", "*.jsonl"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				if !json.Valid(sc.Bytes()) {
					t.Fatalf("%s: a line is not JSON: %q", f, sc.Text())
				}
				lines = append(lines, sc.Text())
			}
		}
		return lines
	}
	// The session's start and end events are both there (they may take a moment).
	brokertest.WaitFor(t, 10*time.Second, "the archived events", func() bool {
		if err := a.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range count("events") {
			if strings.Contains(l, id) {
				n++
			}
		}
		return n == 2
	})
	audit := count("audit")
	if len(audit) == 0 || !strings.Contains(strings.Join(audit, "\n"), `"action":"StartSession"`) {
		t.Fatalf("audit lines: %d", len(audit))
	}
	events := count("events")
	// Nothing new: nothing more is written.
	if err := a.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count("events"); len(got) != len(events) {
		t.Fatalf("a second pass wrote %d lines more", len(got)-len(events))
	}
	// A later session goes into an object of its own; no line is written twice.
	id2, _ := run(t, s, "web-1", "echo", "again")
	brokertest.WaitFor(t, 10*time.Second, "the second session's events", func() bool {
		if err := a.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range count("events") {
			if strings.Contains(l, id2) {
				n++
			}
		}
		return n == 2
	})
	seen := map[string]bool{}
	for _, l := range count("events") {
		if seen[l] {
			t.Fatalf("archived twice: %s", l)
		}
		seen[l] = true
	}
	var v api.AuditRecord
	if err := json.Unmarshal([]byte(audit[0]), &v); err != nil || v.Action == "" {
		t.Fatalf("audit line = %q, %v", audit[0], err)
	}
}
