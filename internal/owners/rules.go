package owners

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on an ownership file. A real one is a few kilobytes.
const (
	// MaxRulesFileBytes is the largest ownership file LoadRules reads.
	MaxRulesFileBytes = 4 << 20
	maxRules          = 10_000
	maxSlackUsers     = 50
	maxTextLen        = 200
)

// MatchField names what a rule's pattern is matched against.
type MatchField string

// The fields a rule may match on, in the order they are checked and shown.
const (
	MatchInstance MatchField = "instance" // the Airflow instance name from medic.yaml
	MatchDag      MatchField = "dag"
	MatchTask     MatchField = "task"
	MatchTable    MatchField = "table"   // case-insensitive
	MatchDataset  MatchField = "dataset" // OpenLineage namespace/name or URI
)

var allMatchFields = []MatchField{MatchInstance, MatchDag, MatchTask, MatchTable, MatchDataset}

// FieldPattern is one field's pattern in a rule.
type FieldPattern struct {
	Field   MatchField
	Pattern *Pattern
}

// Rule maps assets matching all of its patterns to an owner.
type Rule struct {
	// Name is the rule's name, or "" when the file gives none.
	Name string
	// Index is the rule's 0-based position in the file's rules list.
	Index int
	// Line is where the rule starts in the file.
	Line int
	// Match holds one pattern per field the rule matches on; all must match.
	Match []FieldPattern
	// Owner is what the rule says; fields it leaves empty may come from
	// other sources.
	Owner Owner
}

// ModelRule maps Airflow tasks to the dbt model they run, for task ids that
// follow no convention medic knows.
type ModelRule struct {
	Name  string
	Index int
	Line  int
	// Match holds instance, dag and task patterns only.
	Match []FieldPattern
	// Model is a dbt model name or unique_id.
	Model string
}

// Rules is a parsed ownership file.
type Rules struct {
	// File is the name the rules were parsed under.
	File string
	// Default is the owner of everything no other source claims; nil when
	// the file has none.
	Default *Owner
	// DefaultLine is the line of the default key.
	DefaultLine int
	Rules       []*Rule
	DbtModels   []*ModelRule
}

// Label names the rule for messages: `rule "payments-core" (owners.yaml:14)`
// or `rules[3] (owners.yaml:20)` when it has no name.
func (r *Rule) Label(file string) string { return ruleLabel(r.Name, r.Index, file, r.Line) }

// Label names the model rule for messages, as Rule.Label does.
func (r *ModelRule) Label(file string) string { return ruleLabel(r.Name, r.Index, file, r.Line) }

func ruleLabel(name string, index int, file string, line int) string {
	where := fmt.Sprintf("%s:%d", file, line)
	if file == "" {
		where = "line " + strconv.Itoa(line)
	}
	if name != "" {
		return fmt.Sprintf("rule %q (%s)", name, where)
	}
	return fmt.Sprintf("rules[%d] (%s)", index, where)
}

// LoadRules reads and parses the ownership file at path. Files over
// MaxRulesFileBytes are refused.
func LoadRules(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ownership file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxRulesFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read ownership file %s: %w", path, err)
	}
	return ParseRules(data, path)
}

// ParseRules decodes an ownership file strictly: unknown keys, wrong types,
// bad patterns and invalid values are errors naming the file, line, rule and
// key, all reported at once (errors.Join of *RuleError). name is used in
// messages. An empty document gives empty rules.
func ParseRules(data []byte, name string) (*Rules, error) {
	if len(data) > MaxRulesFileBytes {
		return nil, &RuleError{File: name, Err: problemf(ErrTooLarge,
			"ownership file is over the limit of %d bytes; it should hold patterns, not a generated list of every table", MaxRulesFileBytes)}
	}
	rs := &Rules{File: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return rs, nil
	} else if err != nil {
		return nil, syntaxError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &RuleError{File: name, Line: extra.Line, Err: problemf(ErrSyntax,
			"a second YAML document starts here; an ownership file holds exactly one (remove the ---)")}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, err)
	}
	d := &ruleDecoder{file: name}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return rs, nil
	}
	d.document(root, rs)
	if len(d.errs) > 0 {
		all := make([]error, len(d.errs))
		for i, e := range d.errs {
			all[i] = e
		}
		return nil, errors.Join(all...)
	}
	return rs, nil
}

// syntaxError keeps the parser's message ("line 3: did not find expected
// key") without its "yaml: " prefix.
func syntaxError(name string, err error) error {
	return &RuleError{File: name, Err: problemf(ErrSyntax, "%s", strings.TrimPrefix(err.Error(), "yaml: "))}
}
