package remediate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/medic-sh/medic/internal/config"
)

// ErrConf is trigger conf that does not match its DAG's schema, or a DAG
// with no schema.
var ErrConf = errors.New("invalid trigger conf")

// ConfError lists what is wrong with a trigger conf, each problem naming
// the field ("conf.date: ...").
type ConfError struct {
	DagID    string
	Problems []string
}

// Error names the DAG and every problem.
func (e *ConfError) Error() string {
	return fmt.Sprintf("trigger conf for DAG %s: %s", e.DagID, strings.Join(e.Problems, "; "))
}

// Unwrap makes errors.Is(err, ErrConf) true.
func (e *ConfError) Unwrap() error { return ErrConf }

// globbed is one glob-keyed entry of the configuration.
type globbed[V any] struct {
	glob string
	v    V
}

// orderGlobs orders entries so that the first match is the most specific:
// a literal DAG id, then the longest pattern, then alphabetical.
func orderGlobs[V any](m map[string]V) []globbed[V] {
	out := make([]globbed[V], 0, len(m))
	for g, v := range m {
		out = append(out, globbed[V]{g, v})
	}
	sort.Slice(out, func(i, j int) bool {
		li, lj := isLiteral(out[i].glob), isLiteral(out[j].glob)
		if li != lj {
			return li
		}
		if len(out[i].glob) != len(out[j].glob) {
			return len(out[i].glob) > len(out[j].glob)
		}
		return out[i].glob < out[j].glob
	})
	return out
}

func isLiteral(g string) bool { return !strings.ContainsAny(g, `*?[\`) }

func firstMatch[V any](list []globbed[V], dagID string) (V, string, bool) {
	for _, e := range list {
		if match(e.glob, dagID) {
			return e.v, e.glob, true
		}
	}
	var zero V
	return zero, "", false
}

// match reports whether glob matches the whole DAG id; a malformed glob
// (refused by config validation) matches nothing.
func match(glob, dagID string) bool {
	ok, err := path.Match(glob, dagID)
	return err == nil && ok
}

func compileSchemas(m map[string]string) ([]globbed[*jsonschema.Schema], error) {
	var out []globbed[*jsonschema.Schema]
	for _, e := range orderGlobs(m) {
		c := jsonschema.NewCompiler()
		url := "medic:conf_schemas/" + e.glob
		var doc any
		var err error
		if config.InlineSchema(e.v) {
			doc, err = jsonschema.UnmarshalJSON(strings.NewReader(e.v))
		} else {
			var f *os.File
			if f, err = os.Open(e.v); err == nil {
				doc, err = jsonschema.UnmarshalJSON(f)
				f.Close()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("load remediate.conf_schemas.%s: %w", e.glob, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("load remediate.conf_schemas.%s: %w", e.glob, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compile remediate.conf_schemas.%s: %w", e.glob, err)
		}
		out = append(out, globbed[*jsonschema.Schema]{e.glob, s})
	}
	return out, nil
}

// validateConf checks conf against the schema for dagID. Conf is
// round-tripped through JSON so that it is checked as Airflow receives it.
func (p *Policy) validateConf(dagID string, conf map[string]any) error {
	s, _, ok := firstMatch(p.schemas, dagID)
	if !ok {
		return &ConfError{DagID: dagID, Problems: []string{"no schema in remediate.conf_schemas matches this DAG, so medic does not trigger it"}}
	}
	if conf == nil {
		conf = map[string]any{}
	}
	raw, err := json.Marshal(conf)
	if err != nil {
		return &ConfError{DagID: dagID, Problems: []string{fmt.Sprintf("conf is not JSON: %v", err)}}
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		return &ConfError{DagID: dagID, Problems: []string{fmt.Sprintf("conf is not JSON: %v", err)}}
	}
	err = s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &ConfError{DagID: dagID, Problems: []string{err.Error()}}
	}
	var problems []string
	var walk func(*jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			problems = append(problems, fieldName(u.InstanceLocation)+": "+u.Error.String())
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.BasicOutput())
	sort.Strings(problems)
	if len(problems) == 0 {
		problems = []string{"conf: does not match the schema"}
	}
	return &ConfError{DagID: dagID, Problems: problems}
}

// fieldName turns a JSON pointer into "conf.a.b".
func fieldName(ptr string) string {
	name := "conf"
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if seg != "" {
			seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
			name += "." + seg
		}
	}
	return name
}

func parseResources(m map[string]config.RemediateResources) ([]globbed[Resources], error) {
	var out []globbed[Resources]
	for _, e := range orderGlobs(m) {
		r := Resources{Pool: e.v.Pool, Queue: e.v.Queue}
		if e.v.ExecutorConfig != "" {
			if err := json.Unmarshal([]byte(e.v.ExecutorConfig), &r.ExecutorConfig); err != nil {
				return nil, fmt.Errorf("remediate.resources.%s.executor_config: want a JSON object: %w", e.glob, err)
			}
		}
		out = append(out, globbed[Resources]{e.glob, r})
	}
	return out, nil
}
