package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxVisits bounds how many YAML nodes one decode may visit. Aliases and
// merge keys can make a small document expand exponentially ("billion
// laughs"); a real medic.yaml visits a few hundred nodes.
const maxVisits = 100_000

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[time.Duration]()
)

// defaulter is implemented by list elements that have defaults of their own
// (AirflowInstance): each new element is filled before its keys are decoded,
// so keys the file leaves out keep their defaults.
type defaulter interface{ setDefaults() }

// decoder decodes a yaml.Node tree into a Config strictly. It walks the node
// tree and the Go type together, which is what lets every error name the YAML
// path and line, lets one run report every problem rather than the first,
// and lets *_file and *_env keys stand in for any Secret field.
//
// It does the job of yaml.Decoder.KnownFields(true) (which it cannot use: the
// *_file and *_env keys are not fields, and yaml.Node.Decode is never strict)
// and leaves scalar decoding to yaml.
type decoder struct {
	file    string // name for messages
	dir     string // base of relative *_file paths
	src     sources
	errs    []*FieldError
	pos     positions
	visits  int
	merging map[*yaml.Node]bool // merge targets being decoded, to stop cycles
}

func (d *decoder) fail(n *yaml.Node, path string, err error) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Path: path, Err: err})
}

// value decodes n into v, which must be settable.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if d.visits++; d.visits > maxVisits {
		if d.visits == maxVisits+1 {
			d.fail(n, path, newProblem(ErrInvalid, "document expands to more than %d nodes (aliases?)", maxVisits))
		}
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value keeps the default
	}
	switch {
	case v.Type() == secretType:
		s, err := secretFromNode(n)
		if err != nil {
			d.fail(n, path, err)
			return
		}
		v.Set(reflect.ValueOf(s))
	case v.Type() == durationType:
		d.duration(n, v, path)
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8:
		d.sequence(n, v, path)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		d.dictionary(n, v, path)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	default:
		d.scalar(n, v, path)
	}
}

// mapping decodes a YAML mapping into the struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, newProblem(ErrWrongType, "want a mapping of keys, got %s", describeNode(n)))
		return
	}
	fields := yamlFields(v.Type())
	// Merge keys ("<<: *defaults") first, so the mapping's own keys win. In a
	// list of merges the earlier ones win, so apply them last.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]*yaml.Node{} // field name → key that set it
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, newProblem(ErrWrongType, "keys must be plain strings, got %s", describeNode(k)))
			continue
		}
		name, suffix := k.Value, ""
		idx, ok := fields[name]
		if !ok {
			for _, s := range secretSuffixes {
				base, cut := strings.CutSuffix(name, s)
				if j, found := fields[base]; cut && found && v.Type().Field(j).Type == secretType {
					name, suffix, idx, ok = base, s, j, true
					break
				}
			}
		}
		keyPath := joinPath(path, k.Value)
		if !ok {
			d.fail(k, keyPath, unknownKey(k.Value, fields))
			continue
		}
		if prev, dup := seen[name]; dup {
			d.fail(k, keyPath, newProblem(ErrDuplicateKey,
				"%s is already set by %q on line %d; give it once", name, prev.Value, prev.Line))
			continue
		}
		seen[name] = k
		d.pos[joinPath(path, name)] = position{line: k.Line}
		field := v.Field(idx)
		if suffix == "" {
			d.value(val, field, joinPath(path, name))
			continue
		}
		d.secretRef(val, field, keyPath, suffix)
	}
}

// merge applies the value of a "<<" key: a mapping or a list of mappings.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	targets := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		targets = n.Content
	}
	for i := len(targets) - 1; i >= 0; i-- {
		t := targets[i]
		if t.Kind == yaml.AliasNode && t.Alias != nil {
			t = t.Alias
		}
		if d.merging[t] {
			d.fail(n, path, newProblem(ErrInvalid, "merge key refers to a mapping that contains it"))
			return
		}
		d.merging[t] = true
		d.mapping(t, v, path)
		delete(d.merging, t)
	}
}

// secretRef resolves a "*_file: path" or "*_env: VAR" key into the Secret
// field. Errors name the key and the path or variable, never the content.
func (d *decoder) secretRef(n *yaml.Node, field reflect.Value, keyPath, suffix string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.fail(n, keyPath, newProblem(ErrWrongType, "want a %s, got %s",
			map[string]string{"_file": "file path", "_env": "variable name"}[suffix], describeNode(n)))
		return
	}
	s, err := d.src.resolveSecret(suffix, n.Value, d.dir)
	if err != nil {
		d.fail(n, keyPath, err)
		return
	}
	field.Set(reflect.ValueOf(s))
}

// sequence decodes a YAML sequence into the slice v, replacing its contents.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, newProblem(ErrWrongType, "want a list, got %s", describeNode(n)))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		elem := out.Index(i)
		if def, ok := elem.Addr().Interface().(defaulter); ok {
			def.setDefaults()
		}
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		d.pos[itemPath] = position{line: item.Line}
		d.value(item, elem, itemPath)
	}
	v.Set(out)
}

// dictionary decodes a YAML mapping into the map v (string keys, such as
// llm.pricing's model names), replacing its contents. Each value is decoded
// strictly like any other, so an unknown key inside one is an error.
func (d *decoder) dictionary(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, newProblem(ErrWrongType, "want a mapping of names to values, got %s", describeNode(n)))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.fail(k, path, newProblem(ErrWrongType, "keys must be plain strings (merge keys are not supported here), got %s", describeNode(k)))
			continue
		}
		keyPath := joinPath(path, k.Value)
		if prev, dup := seen[k.Value]; dup {
			d.fail(k, keyPath, newProblem(ErrDuplicateKey, "%q is already given on line %d; give it once", k.Value, prev.Line))
			continue
		}
		seen[k.Value] = k
		d.pos[keyPath] = position{line: k.Line}
		elem := reflect.New(v.Type().Elem()).Elem()
		if def, ok := elem.Addr().Interface().(defaulter); ok {
			def.setDefaults()
		}
		d.value(val, elem, keyPath)
		out.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(out)
}

// scalar decodes a YAML scalar into a string, number or bool with yaml's own
// rules (so "version: 2" gives the string "2").
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	want := describeType(v.Type())
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, newProblem(ErrWrongType, "want %s, got %s", want, describeNode(n)))
		return
	}
	p := reflect.New(v.Type())
	if err := n.Decode(p.Interface()); err != nil {
		d.fail(n, path, newProblem(ErrWrongType, "want %s, got %s", want, describeNode(n)))
		return
	}
	if f, ok := p.Elem().Interface().(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		d.fail(n, path, newProblem(ErrWrongType, "want a finite number, got %s", describeNode(n)))
		return
	}
	v.Set(p.Elem())
}

// duration decodes a Go duration string, explaining the usual mistakes.
func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, newProblem(ErrWrongType, "want a duration such as 90s or 1h30m, got %s", describeNode(n)))
		return
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.fail(n, path, err)
		return
	}
	v.SetInt(int64(dur))
}

var daysRE = regexp.MustCompile(`^(\d+)d$`)

// parseDuration is time.ParseDuration with errors that say how to fix the
// value: Go durations have no day unit and no unit-less form.
func parseDuration(s string) (time.Duration, error) {
	dur, err := time.ParseDuration(s)
	if err == nil {
		return dur, nil
	}
	hint := "use a number with a unit: ns, us, ms, s, m or h (90s, 1h30m)"
	if m := daysRE.FindStringSubmatch(s); m != nil {
		if days, convErr := strconv.Atoi(m[1]); convErr == nil && days <= 100_000 {
			hint = fmt.Sprintf("durations have no day unit: write %dh", days*24)
		}
	} else if strings.ContainsAny(s, "dDwWy") {
		hint = "durations have no day, week or year unit: write hours (7 days is 168h)"
	} else if _, convErr := strconv.ParseFloat(s, 64); convErr == nil {
		hint = fmt.Sprintf("a duration needs a unit: write %ss for seconds", s)
	}
	return 0, newProblem(ErrWrongType, "invalid duration %s: %s", quoteShort(s), hint)
}

// yamlFields maps the YAML key of each exported field of struct type t to
// its index, with the same rule as yaml: the tag's name, else the lowercased
// field name.
func yamlFields(t reflect.Type) map[string]int {
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
	}
	return fields
}

// unknownKey explains an unknown key, suggesting the closest valid one.
func unknownKey(key string, fields map[string]int) error {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	best, bestDist := "", 3 // suggest only close matches
	for _, name := range names {
		if dist := editDistance(key, name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		return newProblem(ErrUnknownKey, "unknown key (did you mean %q?)", best)
	}
	return newProblem(ErrUnknownKey, "unknown key; valid keys here: %s", strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describeType names a Go type the way a YAML author thinks of it.
func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	default:
		return t.String()
	}
}

// describeNode names what a YAML node holds, for "want X, got Y" messages.
// Scalars are quoted (and shortened): this is only called for non-secret
// values.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return quoteShort(n.Value)
	default:
		return "nothing"
	}
}

// quoteShort quotes s, cut to a length that fits in one message line.
func quoteShort(s string) string {
	const limit = 40
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}
