package ship

import (
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Keys are where one session's files go: PREFIX/YYYY/MM/DD/SESSION_ID.{cast,log,json}, by
// the session's start date (UTC). Encrypted files get ".age" after their extension.
type Keys struct {
	Cast, Log, Meta string
}

// KeysFor lays out the keys of a session's recording under prefix.
func KeysFor(prefix string, se api.Session, encrypted bool) Keys {
	day := se.StartedAt.UTC().Format("2006/01/02")
	if se.StartedAt.IsZero() {
		day = time.Unix(0, 0).UTC().Format("2006/01/02")
	}
	base := joinKey(prefix, day, se.ID)
	k := Keys{Cast: base + "." + api.RecordingCast, Log: base + "." + api.RecordingLog, Meta: base + "." + api.RecordingMeta}
	if encrypted {
		k.Cast += ".age"
		k.Log += ".age"
	}
	return k
}

// joinKey joins key parts with "/", without empty segments or leading slashes.
func joinKey(parts ...string) string {
	var keep []string
	for _, p := range parts {
		p = strings.Trim(p, "/")
		if p != "" {
			keep = append(keep, p)
		}
	}
	return path.Join(keep...)
}

var keyUnsafe = regexp.MustCompile(`[^-_=a-zA-Z0-9]`)
