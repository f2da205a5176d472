package store

import (
	"fmt"
	"strings"
)

// tempPrefix begins the names of Dir's files being written. Keys may not have a segment
// beginning with it, so that a writer's leftover never passes for an object.
const tempPrefix = ".tmp-"

// checkKey refuses keys that are not a relative slash path of plain names: empty, absolute,
// with empty, "." or ".." segments, backslashes or NULs, or a segment that is Dir's temp
// file prefix. The same keys are refused by every backend, so recordings move between them.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("key %q: backslash or NUL", key)
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("key %q: absolute", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("key %q: empty segment", key)
		case seg == "." || seg == "..":
			return fmt.Errorf("key %q: %q segment", key, seg)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Errorf("key %q: segment begins with %q (reserved for partial files)", key, tempPrefix)
		}
	}
	return nil
}

// checkPrefix refuses list prefixes that no key could begin with: absolute, with
// backslashes, NULs, or an empty, "." or ".." segment before the last. "", "a/" and "a/b"
// (a partial name) are fine.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if strings.ContainsAny(prefix, "\\\x00") {
		return fmt.Errorf("prefix %q: backslash or NUL", prefix)
	}
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("prefix %q: absolute", prefix)
	}
	segs := strings.Split(prefix, "/")
	for _, seg := range segs[:len(segs)-1] {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("prefix %q: %q segment", prefix, seg)
		}
	}
	return nil
}
