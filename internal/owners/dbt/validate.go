package dbt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// maxProblems bounds the problems a ValidationError lists.
const maxProblems = 10

// Validator checks manifests against dbt's manifest v12 JSON Schema, read
// from a local file. The schema is compiled once, on first use (it is a
// megabyte and takes most of a second), and is safe for concurrent use.
type Validator struct {
	path string

	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

// NewValidator returns a validator for the schema file at path (the file
// dbt publishes as https://schemas.getdbt.com/dbt/manifest/v12.json).
func NewValidator(path string) *Validator { return &Validator{path: path} }

// localLoader resolves schema URLs to local files and refuses the rest:
// medic never fetches a schema from the network.
type localLoader map[string]string

func (l localLoader) Load(url string) (any, error) {
	path, ok := l[strings.TrimSuffix(url, "#")]
	if !ok {
		return nil, fmt.Errorf("schema %s is not available locally, and medic fetches no schemas from the network", url)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

func (v *Validator) compile() (*jsonschema.Schema, error) {
	v.once.Do(func() {
		c := jsonschema.NewCompiler()
		c.UseLoader(localLoader{SchemaV12: v.path})
		v.schema, v.err = c.Compile(SchemaV12)
		if v.err != nil {
			v.err = fmt.Errorf("compile dbt manifest schema %s: %w: %w", v.path, ErrSchema, v.err)
		}
	})
	return v.schema, v.err
}

// Check compiles the schema, so that a bad schema path shows at startup.
func (v *Validator) Check() error {
	_, err := v.compile()
	return err
}

// ValidationError is a manifest that does not match the schema.
type ValidationError struct {
	// Source names the manifest.
	Source string
	// SchemaVersion is the manifest's metadata.dbt_schema_version.
	SchemaVersion string
	// Problems are the first few mismatches, each as "at '/json/pointer':
	// what is wrong".
	Problems []string
	// Total is how many mismatches were found.
	Total int
}

// Error says which manifest fails and how.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("manifest %s does not match the dbt manifest v12 schema: %s; regenerate it with a dbt version that writes v12 (dbt 1.8 or later) or turn on warn-only validation", e.Source, e.Summary())
}

// Summary lists the problems on one line.
func (e *ValidationError) Summary() string {
	s := fmt.Sprintf("%d problem(s): %s", e.Total, strings.Join(e.Problems, "; "))
	if more := e.Total - len(e.Problems); more > 0 {
		s += fmt.Sprintf("; and %d more", more)
	}
	return s
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// validate parses the whole manifest and checks it. It returns the
// mismatches (nil when it matches) and the manifest's schema version; err is
// for a manifest that is not JSON or a schema that does not compile.
func validate(ctx context.Context, name string, open func() (io.ReadCloser, error), opts Options) (*ValidationError, string, error) {
	schema, err := opts.Schema.compile()
	if err != nil {
		return nil, "", err
	}
	r, err := open()
	if err != nil {
		return nil, "", fmt.Errorf("load dbt manifest %s: %w", name, err)
	}
	defer r.Close()
	br := &boundedReader{stop: ctx.Err, r: r, left: opts.maxBytes(), name: name, limit: opts.maxBytes()}
	doc, err := jsonschema.UnmarshalJSON(br)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("load dbt manifest %s: %w", name, context.Cause(ctx))
		}
		if errors.Is(err, ErrTooLarge) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("load dbt manifest %s: not JSON: %w: %w", name, ErrMalformed, err)
	}
	version := schemaVersion(doc)
	err = schema.Validate(doc)
	if err == nil {
		return nil, version, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, "", fmt.Errorf("validate dbt manifest %s: %w", name, err)
	}
	leaves := mismatches(ve)
	msgs := make([]string, len(leaves))
	for i, l := range leaves {
		msgs[i] = clip(l.Error(), 300)
	}
	// The validator walks objects in map order: sort, so that the same
	// manifest always reports the same first problems.
	slices.Sort(msgs)
	out := &ValidationError{Source: name, SchemaVersion: version, Total: len(msgs)}
	out.Problems = msgs[:min(len(msgs), maxProblems)]
	return out, version, nil
}

func schemaVersion(doc any) string {
	top, _ := doc.(map[string]any)
	md, _ := top["metadata"].(map[string]any)
	v, _ := md["dbt_schema_version"].(string)
	return v
}

// mismatches flattens a validation error tree into its leaves. Where the
// schema says anyOf/oneOf (a node is a Seed or a Model or …), only the
// alternative with the fewest problems is kept: that is the one the author
// meant, and the others only say "resource_type must be 'seed'".
func mismatches(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		var best []*jsonschema.ValidationError
		for _, c := range e.Causes {
			if l := mismatches(c); best == nil || len(l) < len(best) {
				best = l
			}
		}
		return best
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, mismatches(c)...)
	}
	return out
}

// clip shortens s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
