package document

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parameter types.
const (
	TypeString     = "String"
	TypeStringList = "StringList"
	TypeInteger    = "Integer"
	TypeBoolean    = "Boolean"
)

// Limits of parameters and their values.
const (
	DefaultMaxChars = 4096      // runes per value, unless the parameter says otherwise
	MaxMaxChars     = 16 << 10  // the most a parameter's maxChars may say
	MaxListItems    = 256       // items of a StringList, and the most maxItems may say
	MaxValuesBytes  = 128 << 10 // all resolved values together
)

var paramNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// param is one declared parameter, with its rules.
type param struct {
	name, typ, desc string
	def             []string
	hasDef          bool
	allowed         []string
	pattern         *regexp.Regexp
	minChars        int
	maxChars        int
	minItems        int
	maxItems        int
}

func parseParams(raw map[string]*rawParameter) (map[string]*param, error) {
	params := make(map[string]*param, len(raw))
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names) // for a stable first error
	for _, name := range names {
		p, err := parseParam(name, raw[name])
		if err != nil {
			return nil, err
		}
		params[name] = p
	}
	return params, nil
}

func parseParam(name string, r *rawParameter) (*param, error) {
	at := "document: parameters." + name
	if !paramNameRE.MatchString(name) {
		return nil, fmt.Errorf("document: parameter name %.64q is not valid (want %s)", name, paramNameRE)
	}
	if r == nil {
		return nil, fmt.Errorf("%s: want a mapping with at least a type", at)
	}
	p := &param{name: name, typ: r.Type, desc: r.Description, maxChars: DefaultMaxChars}
	switch r.Type {
	case TypeString, TypeStringList, TypeInteger, TypeBoolean:
	case "":
		return nil, fmt.Errorf("%s.type is required (String, StringList, Integer or Boolean)", at)
	case "StringMap", "MapList":
		return nil, fmt.Errorf("%s.type: %s parameters are not supported by Tether (String, StringList, Integer or Boolean)", at, r.Type)
	default:
		return nil, fmt.Errorf("%s.type: unknown type %.64q (want String, StringList, Integer or Boolean)", at, r.Type)
	}
	if r.MaxChars.set {
		if r.MaxChars.v < 1 || r.MaxChars.v > MaxMaxChars {
			return nil, fmt.Errorf("%s.maxChars: %d is out of range (1-%d)", at, r.MaxChars.v, MaxMaxChars)
		}
		p.maxChars = int(r.MaxChars.v)
	}
	if r.MinChars.set {
		if r.MinChars.v < 0 || r.MinChars.v > int64(p.maxChars) {
			return nil, fmt.Errorf("%s.minChars: %d is out of range (0-%d, the maxChars)", at, r.MinChars.v, p.maxChars)
		}
		p.minChars = int(r.MinChars.v)
	}
	if p.typ == TypeStringList {
		p.minItems, p.maxItems = 1, MaxListItems
		if r.MaxItems.set {
			if r.MaxItems.v < 1 || r.MaxItems.v > MaxListItems {
				return nil, fmt.Errorf("%s.maxItems: %d is out of range (1-%d)", at, r.MaxItems.v, MaxListItems)
			}
			p.maxItems = int(r.MaxItems.v)
		}
		if r.MinItems.set {
			if r.MinItems.v < 0 || r.MinItems.v > int64(p.maxItems) {
				return nil, fmt.Errorf("%s.minItems: %d is out of range (0-%d, the maxItems)", at, r.MinItems.v, p.maxItems)
			}
			p.minItems = int(r.MinItems.v)
		}
	} else if r.MinItems.set || r.MaxItems.set {
		return nil, fmt.Errorf("%s: minItems and maxItems are only for StringList parameters", at)
	}
	// Allowed values are checked against the character and type rules, before the
	// allowed values and pattern themselves apply.
	var allowed []string
	for _, a := range r.AllowedValues {
		if err := p.checkOne(a.v); err != nil {
			return nil, fmt.Errorf("%s.allowedValues: %w", at, err)
		}
		allowed = append(allowed, a.v)
	}
	p.allowed = allowed
	if r.AllowedPattern != "" {
		// SSM's authors anchor their patterns; they are used as written.
		re, err := regexp.Compile(r.AllowedPattern)
		if err != nil {
			return nil, fmt.Errorf("%s.allowedPattern does not compile as a Go (RE2) regular expression, which has no lookaround or backreferences: %w", at, err)
		}
		p.pattern = re
	}
	if r.Default != nil {
		if r.Default.list && p.typ != TypeStringList {
			return nil, fmt.Errorf("%s.default: want one value for a %s parameter, got a list", at, p.typ)
		}
		if err := p.check(r.Default.v); err != nil {
			return nil, fmt.Errorf("%s.default: %w", at, err)
		}
		p.def, p.hasDef = r.Default.v, true
	}
	return p, nil
}

// check validates the values given for p.
func (p *param) check(vals []string) error {
	if p.typ == TypeStringList {
		if len(vals) < p.minItems || len(vals) > p.maxItems {
			return fmt.Errorf("parameter %q takes %d to %d values, got %d", p.name, p.minItems, p.maxItems, len(vals))
		}
	} else if len(vals) != 1 {
		return fmt.Errorf("parameter %q takes exactly one value, got %d", p.name, len(vals))
	}
	for _, v := range vals {
		if err := p.checkOne(v); err != nil {
			return err
		}
	}
	return nil
}

// checkOne validates one value of p. Errors quote at most 64 characters of the value.
func (p *param) checkOne(v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("parameter %q: value %.64q is not valid UTF-8", p.name, v)
	}
	n := 0
	for i, r := range v {
		// C0 controls but tab and newline, DEL, and C1 controls (terminals obey some).
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			return fmt.Errorf("parameter %q: value %.64q holds control character %U at byte %d", p.name, v, r, i)
		}
		n++
	}
	if n > p.maxChars {
		return fmt.Errorf("parameter %q: value %.64q is %d characters, over the limit of %d", p.name, v, n, p.maxChars)
	}
	if n < p.minChars {
		return fmt.Errorf("parameter %q: value %.64q is %d characters, under the minimum of %d", p.name, v, n, p.minChars)
	}
	switch p.typ {
	case TypeInteger:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("parameter %q: value %.64q is not an integer", p.name, v)
		}
	case TypeBoolean:
		if v != "true" && v != "false" {
			return fmt.Errorf("parameter %q: value %.64q is not true or false", p.name, v)
		}
	}
	if p.allowed != nil && !slices.Contains(p.allowed, v) {
		shown := p.allowed
		if len(shown) > 10 {
			shown = append(slices.Clip(shown[:10]), "…")
		}
		return fmt.Errorf("parameter %q: value %.64q is not one of the allowed values: %s", p.name, v, strings.Join(shown, ", "))
	}
	if p.pattern != nil && !p.pattern.MatchString(v) {
		return fmt.Errorf("parameter %q: value %.64q does not match the allowed pattern %s", p.name, v, p.pattern)
	}
	return nil
}

// resolveParams checks the caller's parameters against the declared ones and fills in
// defaults. The result shares no slices with the caller's map.
func (d *Document) resolveParams(given map[string][]string) (map[string][]string, error) {
	names := make([]string, 0, len(given))
	for name := range given {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, ok := d.params[name]; !ok {
			declared := "it declares none"
			if len(d.names) > 0 {
				declared = "it declares " + strings.Join(d.names, ", ")
			}
			return nil, fmt.Errorf("parameter %.64q is not declared by the document; %s", name, declared)
		}
	}
	out := make(map[string][]string, len(d.params))
	total := 0
	for _, name := range d.names {
		p := d.params[name]
		vals, ok := given[name]
		if !ok {
			if !p.hasDef {
				return nil, fmt.Errorf("parameter %s is required", name)
			}
			vals = p.def
		} else if err := p.check(vals); err != nil {
			return nil, err
		}
		for _, v := range vals {
			total += len(v)
		}
		out[name] = slices.Clone(vals)
	}
	if total > MaxValuesBytes {
		return nil, fmt.Errorf("parameter values are %d bytes together, over the limit of %d", total, MaxValuesBytes)
	}
	return out, nil
}
