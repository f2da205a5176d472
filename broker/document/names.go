package document

import (
	"fmt"
	"regexp"
	"strings"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,128}$`)

// reservedPrefixes begin the names of built-in documents, Tether's and SSM's.
var reservedPrefixes = []string{"tether-", "aws-", "ssm-"}

// ValidName checks a document name as SSM does: 3-128 letters, digits, _ . and -.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("document name %.64q is not valid (3-128 letters, digits, '_', '.' and '-')", name)
	}
	return nil
}

// Reserved reports whether name begins with a prefix kept for built-in documents
// ("Tether-", "AWS-", "SSM-", in any case); such names cannot be created.
func Reserved(name string) bool {
	lower := strings.ToLower(name)
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}
