package clicmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tetherhq/tether/streams/wire/api"
)

// Limits of a policy bundle, checked before it is sent.
const (
	maxPolicyFiles = 200
	maxPolicyBytes = 1 << 20
)

// isPolicyFile reports whether a file of this name belongs in a policy bundle.
func isPolicyFile(name string) bool {
	switch name {
	case "data.json", "data.yaml", "data.yml":
		return true
	}
	return strings.HasSuffix(name, ".rego")
}

// collectPolicy reads the policy bundle in dir: every .rego file and every data.json,
// data.yaml and data.yml, at any depth, skipping hidden files and directories. A symlink
// is followed to a file inside dir and refused if it leads out of dir; symlinked
// directories are not entered.
func collectPolicy(dir string) ([]api.PolicyFile, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("policy directory %s: %w", dir, err)
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, fmt.Errorf("policy directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("policy directory %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("policy directory %s: not a directory", dir)
	}
	var files []api.PolicyFile
	total, rego := 0, 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		read := path
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(path)
			if err != nil {
				if !isPolicyFile(name) {
					return nil // a dangling link the bundle would not use
				}
				return fmt.Errorf("%s: %w", rel, err)
			}
			if inside, err := filepath.Rel(root, target); err != nil || inside == ".." ||
				strings.HasPrefix(inside, ".."+string(filepath.Separator)) || filepath.IsAbs(inside) {
				return fmt.Errorf("%s: a symlink to %s, outside %s", rel, target, dir)
			}
			fi, err := os.Stat(target)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if fi.IsDir() {
				return nil // its files are in dir already, where it points
			}
			if isPolicyFile(name) && !fi.Mode().IsRegular() {
				return fmt.Errorf("%s: not a regular file", rel)
			}
			read = target
		} else if isPolicyFile(name) && !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", rel)
		}
		if !isPolicyFile(name) {
			return nil
		}
		if len(files) == maxPolicyFiles {
			return fmt.Errorf("more than %d policy files", maxPolicyFiles)
		}
		data, err := readFileMax(read, int64(maxPolicyBytes-total))
		if err != nil {
			if _, ok := errors.AsType[tooBigError](err); ok {
				return fmt.Errorf("the policy files add up to more than %d bytes", maxPolicyBytes)
			}
			return fmt.Errorf("%s: %w", rel, err)
		}
		total += len(data)
		if strings.HasSuffix(name, ".rego") {
			rego++
		}
		files = append(files, api.PolicyFile{Path: filepath.ToSlash(rel), Content: string(data)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy directory %s: %w", dir, err)
	}
	slices.SortFunc(files, func(a, b api.PolicyFile) int { return strings.Compare(a.Path, b.Path) })
	if rego == 0 {
		return nil, fmt.Errorf("policy directory %s: no .rego files", dir)
	}
	return files, nil
}

// policyRequest builds the PushPolicy request for files and checks that it fits in one
// request of at most max bytes.
func policyRequest(files []api.PolicyFile, max int) (api.PushPolicyRequest, error) {
	req := api.PushPolicyRequest{Files: files}
	body, err := json.Marshal(req)
	if err != nil {
		return req, err
	}
	if len(body) > max {
		return req, fmt.Errorf("the bundle is %d bytes as a request, more than the %d the broker accepts", len(body), max)
	}
	return req, nil
}
