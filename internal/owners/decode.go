package owners

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxVisits bounds how many YAML nodes one ownership file may expand to:
// aliases can make a small document exponentially large.
const maxVisits = 100_000

// ruleDecoder walks an ownership file's node tree against the format by
// hand, which is what gives every problem its line, rule and key, and lets
// one pass report every problem rather than the first. It is as strict as
// yaml.Decoder.KnownFields(true): an unknown key is an error.
type ruleDecoder struct {
	file   string
	errs   []*RuleError
	visits int
	rule   string // label of the rule being decoded
}

func (d *ruleDecoder) fail(n *yaml.Node, path string, err error) {
	e := &RuleError{File: d.file, Rule: d.rule, Path: path, Err: err}
	if n != nil {
		e.Line = n.Line
	}
	d.errs = append(d.errs, e)
}

// deref follows an alias and charges the node to the visit budget. It
// returns nil once the budget is spent.
func (d *ruleDecoder) deref(n *yaml.Node, path string) *yaml.Node {
	if d.visits++; d.visits > maxVisits {
		if d.visits == maxVisits+1 {
			d.fail(n, path, problemf(ErrTooLarge, "document expands to more than %d nodes (aliases?)", maxVisits))
		}
		return nil
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describeNode names what a node holds, for "want X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		return quoteShort(n.Value)
	default:
		return "an alias"
	}
}

func quoteShort(s string) string {
	const limit = 40
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping calls fn for each key of the mapping n, in file order, after
// checking that the key is one of keys and not given twice. A null n is an
// empty mapping.
func (d *ruleDecoder) mapping(n *yaml.Node, path string, keys []string, fn func(key string, k, v *yaml.Node)) {
	if n = d.deref(n, path); n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, problemf(ErrWrongType, "want a mapping of keys, got %s", describeNode(n)))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, problemf(ErrWrongType, "keys must be plain strings, got %s", describeNode(k)))
			continue
		}
		keyPath := joinPath(path, k.Value)
		if k.ShortTag() == "!!merge" {
			d.fail(k, keyPath, problemf(ErrUnknownKey, "merge keys (<<) are not supported; use an alias (*name) for a whole value"))
			continue
		}
		if !slices.Contains(keys, k.Value) {
			d.fail(k, keyPath, unknownKey(k.Value, keys))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(k, keyPath, problemf(ErrDuplicateKey, "%s is already given on line %d; give it once", k.Value, line))
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
}

// sequence returns the items of the list n; nil for a null n.
func (d *ruleDecoder) sequence(n *yaml.Node, path string, limit int) []*yaml.Node {
	if n = d.deref(n, path); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, problemf(ErrWrongType, "want a list, got %s", describeNode(n)))
		return nil
	}
	if len(n.Content) > limit {
		d.fail(n, path, problemf(ErrTooLarge, "%d entries, more than the limit of %d", len(n.Content), limit))
		return nil
	}
	return n.Content
}

// str returns the text of a scalar value, which must not be empty or longer
// than limit bytes.
func (d *ruleDecoder) str(n *yaml.Node, path string, limit int) (string, bool) {
	if n = d.deref(n, path); n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.fail(n, path, problemf(ErrWrongType, "want a string, got %s", describeNode(n)))
		return "", false
	}
	s := strings.TrimSpace(n.Value)
	switch {
	case s == "":
		d.fail(n, path, problemf(ErrInvalid, "empty; give a value or remove the key"))
		return "", false
	case len(s) > limit:
		d.fail(n, path, problemf(ErrInvalid, "%d bytes, more than the limit of %d", len(s), limit))
		return "", false
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		d.fail(n, path, problemf(ErrInvalid, "%s holds a control character", quoteShort(s)))
		return "", false
	}
	return s, true
}

// unknownKey explains an unknown key, suggesting the closest valid one.
func unknownKey(key string, keys []string) error {
	best, bestDist := "", 3 // suggest close matches only
	for _, k := range keys {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return problemf(ErrUnknownKey, "unknown key (did you mean %q?)", best)
	}
	sorted := slices.Sorted(slices.Values(keys))
	return problemf(ErrUnknownKey, "unknown key; valid keys here: %s", strings.Join(sorted, ", "))
}

// editDistance is the Levenshtein distance between two short strings; long
// ones are never close.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			diag, row[j] = row[j], min(row[j]+1, row[j-1]+1, diag+cost)
		}
	}
	return row[len(b)]
}

// document decodes the top level of an ownership file into rs.
func (d *ruleDecoder) document(n *yaml.Node, rs *Rules) {
	d.mapping(n, "", []string{"version", "default", "rules", "dbt_models"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			d.version(v)
		case "default":
			if o, ok := d.owner(v, "default"); ok {
				rs.Default, rs.DefaultLine = o, k.Line
			}
		case "rules":
			d.rules(v, rs)
		case "dbt_models":
			d.modelRules(v, rs)
		}
	})
}

func (d *ruleDecoder) version(n *yaml.Node) {
	s, ok := d.str(n, "version", 8)
	if ok && s != "1" {
		d.fail(n, "version", problemf(ErrInvalid, "unsupported version %s; this medic reads version 1", quoteShort(s)))
	}
}

// ruleName finds the name key of a rule before the rest is decoded, so that
// every problem in the rule can be labelled with it.
func ruleName(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && len(v.Value) <= maxTextLen {
			return strings.TrimSpace(v.Value)
		}
	}
	return ""
}

func ruleContext(list string, i int, name string) string {
	if name != "" {
		return fmt.Sprintf("%s[%d] (%s)", list, i, quoteShort(name))
	}
	return fmt.Sprintf("%s[%d]", list, i)
}

func (d *ruleDecoder) rules(n *yaml.Node, rs *Rules) {
	names := map[string]int{}
	for i, item := range d.sequence(n, "rules", maxRules) {
		name := ruleName(item)
		d.rule = ruleContext("rules", i, name)
		r := &Rule{Index: i, Line: item.Line}
		var hasMatch, hasOwner bool
		d.mapping(item, "", []string{"name", "description", "match", "owner"}, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				r.Name, _ = d.str(v, "name", maxTextLen)
				if line, dup := names[r.Name]; dup && r.Name != "" {
					d.fail(v, "name", problemf(ErrDuplicateKey, "rule name %s is already used on line %d; names must be unique", quoteShort(r.Name), line))
				}
				names[r.Name] = v.Line
			case "description":
				d.str(v, "description", 4*maxTextLen)
			case "match":
				hasMatch = true
				r.Match = d.match(v, allMatchFields)
			case "owner":
				hasOwner = true
				if o, ok := d.owner(v, "owner"); ok {
					r.Owner = *o
				}
			}
		})
		if item = d.deref(item, ""); item != nil && item.Kind == yaml.MappingNode {
			if !hasMatch {
				d.fail(item, "match", problemf(ErrInvalid, "missing; a rule needs at least one of instance, dag, task, table or dataset"))
			}
			if !hasOwner {
				d.fail(item, "owner", problemf(ErrInvalid, "missing; say who owns what the rule matches"))
			}
		}
		rs.Rules = append(rs.Rules, r)
	}
	d.rule = ""
}

func (d *ruleDecoder) modelRules(n *yaml.Node, rs *Rules) {
	for i, item := range d.sequence(n, "dbt_models", maxRules) {
		d.rule = ruleContext("dbt_models", i, ruleName(item))
		r := &ModelRule{Index: i, Line: item.Line}
		hasMatch := false
		d.mapping(item, "", []string{"name", "description", "match", "model"}, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				r.Name, _ = d.str(v, "name", maxTextLen)
			case "description":
				d.str(v, "description", 4*maxTextLen)
			case "match":
				hasMatch = true
				r.Match = d.match(v, []MatchField{MatchInstance, MatchDag, MatchTask})
			case "model":
				if s, ok := d.str(v, "model", maxTextLen); ok {
					if !modelNameRE.MatchString(s) {
						d.fail(v, "model", problemf(ErrInvalid, "%s is not a dbt model name or unique_id (letters, digits, _, . and -)", quoteShort(s)))
					}
					r.Model = s
				}
			}
		})
		if item = d.deref(item, ""); item != nil && item.Kind == yaml.MappingNode {
			if !hasMatch {
				d.fail(item, "match", problemf(ErrInvalid, "missing; a dbt_models rule needs at least one of instance, dag or task"))
			}
			if r.Model == "" {
				d.fail(item, "model", problemf(ErrInvalid, "missing; name the dbt model the matched tasks run"))
			}
		}
		rs.DbtModels = append(rs.DbtModels, r)
	}
	d.rule = ""
}

var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// match decodes a rule's match mapping; allowed lists the fields it may use.
func (d *ruleDecoder) match(n *yaml.Node, allowed []MatchField) []FieldPattern {
	keys := make([]string, len(allowed))
	for i, f := range allowed {
		keys[i] = string(f)
	}
	var out []FieldPattern
	d.mapping(n, "match", keys, func(key string, k, v *yaml.Node) {
		path := "match." + key
		s, ok := d.str(v, path, maxPatternLen)
		if !ok {
			return
		}
		field := MatchField(key)
		p, err := compilePattern(s, field == MatchTable)
		if err != nil {
			d.fail(v, path, err)
			return
		}
		out = append(out, FieldPattern{Field: field, Pattern: p})
	})
	if m := d.deref(n, "match"); m != nil && (isNull(m) || (m.Kind == yaml.MappingNode && len(m.Content) == 0)) {
		d.fail(n, "match", problemf(ErrInvalid, "empty; give at least one of %s", strings.Join(keys, ", ")))
	}
	slices.SortStableFunc(out, func(a, b FieldPattern) int {
		return slices.Index(allMatchFields, a.Field) - slices.Index(allMatchFields, b.Field)
	})
	return out
}

// owner decodes an owner mapping; ok is false when it had problems or said
// nothing.
func (d *ruleDecoder) owner(n *yaml.Node, path string) (*Owner, bool) {
	o := &Owner{}
	before := len(d.errs)
	d.mapping(n, path, []string{FieldTeam, FieldSlackChannel, FieldSlackUsers, FieldEscalation, FieldTier, FieldRunbook},
		func(key string, k, v *yaml.Node) {
			p := joinPath(path, key)
			switch key {
			case FieldTeam:
				o.Team, _ = d.str(v, p, maxTextLen)
			case FieldSlackChannel:
				if s, ok := d.str(v, p, maxTextLen); ok {
					if err := checkSlackChannel(s); err != nil {
						d.fail(v, p, problemf(ErrInvalid, "%s", err))
					}
					o.SlackChannel = s
				}
			case FieldSlackUsers:
				for i, item := range d.sequence(v, p, maxSlackUsers) {
					ip := fmt.Sprintf("%s[%d]", p, i)
					if s, ok := d.str(item, ip, maxTextLen); ok {
						if err := checkSlackUser(s); err != nil {
							d.fail(item, ip, problemf(ErrInvalid, "%s", err))
						}
						o.SlackUsers = append(o.SlackUsers, s)
					}
				}
			case FieldEscalation:
				o.Escalation, _ = d.str(v, p, maxTextLen)
			case FieldTier:
				o.Tier = d.tier(v, p)
			case FieldRunbook:
				if s, ok := d.str(v, p, 2048); ok {
					if err := checkRunbook(s); err != nil {
						d.fail(v, p, problemf(ErrInvalid, "%s", err))
					}
					o.Runbook = s
				}
			}
		})
	if len(d.errs) > before {
		return nil, false
	}
	if o.IsZero() {
		d.fail(n, path, problemf(ErrInvalid, "says nothing; give at least one of team, slack_channel, slack_users, escalation, tier or runbook"))
		return nil, false
	}
	return o, true
}

func (d *ruleDecoder) tier(n *yaml.Node, path string) Tier {
	s, ok := d.str(n, path, 16)
	if !ok {
		return TierUnknown
	}
	t, ok := ParseTier(s)
	if !ok {
		d.fail(n, path, problemf(ErrInvalid, "%s is not a tier: write 1, 2 or 3 (or tier1, tier2, tier3)", quoteShort(s)))
	}
	return t
}
