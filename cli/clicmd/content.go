package clicmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tetherhq/tether/streams/wire/api"
)

// maxContent bounds a document's content, as SSM bounds a Session document.
const maxContent = 64 << 10

// readContent reads the value of a --content flag: file://PATH names a file (a relative
// path is relative to the working directory), anything else is the content itself.
func readContent(flag, v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("%s is required", flag)
	}
	path, ok := strings.CutPrefix(v, "file://")
	if !ok {
		if len(v) > maxContent {
			return "", fmt.Errorf("%s: %d bytes, more than the %d a document may have", flag, len(v), maxContent)
		}
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("%s: not UTF-8 text", flag)
		}
		return v, nil
	}
	if path == "" {
		return "", fmt.Errorf("%s file://: no file name", flag)
	}
	data, err := readFileMax(path, maxContent)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, v, err)
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%s %s: not UTF-8 text", flag, v)
	}
	return string(data), nil
}

// tooBigError is readFileMax's error for a file over its limit.
type tooBigError struct{ size, max int64 } // size -1: unknown, the file grew

func (e tooBigError) Error() string {
	if e.size < 0 {
		return fmt.Sprintf("more than the %d bytes allowed", e.max)
	}
	return fmt.Sprintf("%d bytes, more than the %d allowed", e.size, e.max)
}

// readFileMax reads a file of at most max bytes: a regular file, or something like a pipe
// that is read to its end.
func readFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no such file")
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, errors.New("a directory, not a file")
	}
	if fi.Mode().IsRegular() && fi.Size() > max {
		return nil, tooBigError{fi.Size(), max}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, tooBigError{-1, max}
	}
	return data, nil
}

// documentFormat returns the --document-format value spelled as the API has it, or, if
// flag is empty, the format content looks like: JSON if it starts with '{', else YAML.
func documentFormat(flag, content string) (string, error) {
	switch strings.ToUpper(flag) {
	case api.FormatYAML:
		return api.FormatYAML, nil
	case api.FormatJSON:
		return api.FormatJSON, nil
	case "":
		if strings.HasPrefix(strings.TrimLeftFunc(content, unicode.IsSpace), "{") {
			return api.FormatJSON, nil
		}
		return api.FormatYAML, nil
	}
	return "", fmt.Errorf("--document-format %q: use YAML or JSON", flag)
}

// documentVersion checks a --document-version value: $LATEST or a version number.
func documentVersion(v string) error {
	if v == "" || v == "$LATEST" {
		return nil
	}
	n := 0
	for _, r := range v {
		if r < '0' || r > '9' || n > 1e8 {
			return fmt.Errorf("--document-version %q: use $LATEST or a version number", v)
		}
		n = n*10 + int(r-'0')
	}
	if n < 1 {
		return fmt.Errorf("--document-version %q: versions start at 1", v)
	}
	return nil
}
