package agents

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed builtin/*.yaml
var builtin embed.FS

// maxFileBytes bounds one definition file.
const maxFileBytes = 64 << 10

// Options configure Load.
type Options struct {
	// Dir is a directory of *.yaml and *.yml definitions that add agents
	// or replace built-ins by name; "" means the built-ins alone.
	Dir string
	// Registry is the tools definitions may name; nil means
	// DefaultRegistry.
	Registry *Registry
	// Engines are the deterministic engines, by name.
	Engines map[string]EngineSpec
	// Models reports that a model-driven engine is wired, so an agent with
	// a model and no engine can run.
	Models bool
}

// Load reads the built-in definitions, then the files of opts.Dir, and
// validates the result. It reports every problem it finds, each an *Error
// naming the file and line, joined with errors.Join.
func Load(opts Options) (*Set, error) {
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry()
	}
	var errs []error
	defs := map[string]*Definition{}
	builtins, err := readDir(builtin, "builtin", "builtin/")
	errs = append(errs, err)
	for _, d := range builtins {
		defs[d.Name] = d
	}
	if opts.Dir != "" {
		user, err := readDir(os.DirFS(opts.Dir), ".", opts.Dir+string(filepath.Separator))
		errs = append(errs, err)
		byName := map[string]*Definition{}
		for _, d := range user {
			if prev, dup := byName[d.Name]; dup {
				errs = append(errs, &Error{
					File: d.Source, Line: d.lines["name"], Field: "name",
					Err: problemf(ErrDuplicate, "%q is already defined in %s", d.Name, prev.Source),
				})
				continue
			}
			byName[d.Name] = d
			defs[d.Name] = d // a user's file replaces the built-in of its name
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return assemble(defs, opts)
}

// assemble validates each definition and the set as a whole.
func assemble(defs map[string]*Definition, opts Options) (*Set, error) {
	var errs []error
	s := &Set{defs: defs}
	for _, n := range s.names() {
		d := defs[n]
		d.check(opts.Registry, opts.Engines, opts.Models, &errs)
		if d.Role != RoleCommander {
			continue
		}
		if s.commander != nil {
			errs = append(errs, &Error{
				File: d.Source, Line: d.lines["role"], Field: "role",
				Err: problemf(ErrDuplicate, "%s is already the commander (%s); there is exactly one", s.commander.Name, s.commander.Source),
			})
			continue
		}
		s.commander = d
	}
	if s.commander == nil {
		errs = append(errs, &Error{File: "agents", Err: problemf(ErrInvalid, "no agent has role commander: define %s", Commander)})
		return nil, errors.Join(errs...)
	}
	s.delegates, errs = delegates(s, errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, d := range defs {
		if d.MaxSteps == 0 {
			d.MaxSteps = DefaultMaxSteps
		}
	}
	return s, nil
}

// builtinSpecialists is the order the built-in specialists start in.
var builtinSpecialists = []string{LogAnalyzer, QueryProfiler, OwnerNotifier}

// delegates resolves the commander's delegates: the names it lists, or every
// specialist: the built-ins first, then the others by name.
func delegates(s *Set, errs []error) ([]*Definition, []error) {
	c := s.commander
	var out []*Definition
	if len(c.Delegates) == 0 {
		names := slices.DeleteFunc(s.names(), func(n string) bool { return slices.Contains(builtinSpecialists, n) })
		for _, n := range append(slices.Clone(builtinSpecialists), names...) {
			if d, ok := s.defs[n]; ok && d.Role == RoleSpecialist {
				out = append(out, d)
			}
		}
		return out, errs
	}
	seen := map[string]bool{}
	for i, n := range c.Delegates {
		field := fmt.Sprintf("delegates[%d]", i)
		d, ok := s.defs[n]
		switch {
		case !ok:
			errs = append(errs, &Error{File: c.Source, Line: c.lines[field], Field: field, Err: problemf(ErrInvalid, "no agent is named %q", n)})
		case d.Role != RoleSpecialist:
			errs = append(errs, &Error{File: c.Source, Line: c.lines[field], Field: field, Err: problemf(ErrInvalid, "%s is not a specialist", n)})
		case seen[n]:
			errs = append(errs, &Error{File: c.Source, Line: c.lines[field], Field: field, Err: problemf(ErrInvalid, "%s is listed twice", n)})
		default:
			out = append(out, d)
		}
		seen[n] = true
	}
	return out, errs
}

// readDir decodes the *.yaml and *.yml files at the top of dir in fsys,
// in name order; source prefixes each file's name in errors.
func readDir(fsys fs.FS, dir, source string) ([]*Definition, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, &Error{File: strings.TrimSuffix(source, string(filepath.Separator)), Err: fmt.Errorf("read agent definitions: %w", err)}
	}
	var (
		out  []*Definition
		errs []error
	)
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := source + e.Name()
		data, err := readFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, &Error{File: name, Err: err})
			continue
		}
		d, err := Parse(data, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read agent definition: %w", err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read agent definition: %w", err)
	}
	if len(data) > maxFileBytes {
		return nil, problemf(ErrSyntax, "larger than %d bytes", maxFileBytes)
	}
	return data, nil
}

// Parse decodes one definition strictly: one YAML document holding one
// mapping of known keys. source names the file in errors. Parse checks the
// shape only; Load validates values against the tools and engines.
func Parse(data []byte, source string) (*Definition, error) {
	var doc, extra yaml.Node
	docs := yaml.NewDecoder(bytes.NewReader(data))
	err := docs.Decode(&doc)
	if err == nil {
		if err = docs.Decode(&extra); err == nil {
			return nil, &Error{File: source, Line: extra.Line, Err: problemf(ErrSyntax, "one definition per file: found a second YAML document")}
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// yaml.v3 gives a syntax error's position only in its text, which
		// the message keeps.
		return nil, &Error{File: source, Err: problemf(ErrSyntax, "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		line := 0
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return nil, &Error{File: source, Line: line, Err: problemf(ErrSyntax, "want one mapping of keys (name, role, instructions, tools, ...)")}
	}
	root := doc.Content[0]
	d := &Definition{lines: map[string]int{}}
	fields := yamlFields(reflect.TypeFor[Definition]())
	known := slices.Sorted(maps.Keys(fields))
	v := reflect.ValueOf(d).Elem()
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, val := root.Content[i], root.Content[i+1]
		idx, ok := fields[k.Value]
		switch {
		case !ok:
			errs = append(errs, &Error{
				File: source, Line: k.Line, Field: k.Value,
				Err: problemf(ErrUnknownKey, "unknown key; valid keys: %s", strings.Join(known, ", ")),
			})
			continue
		case d.lines[k.Value] != 0:
			errs = append(errs, &Error{
				File: source, Line: k.Line, Field: k.Value,
				Err: problemf(ErrSyntax, "already set on line %d", d.lines[k.Value]),
			})
			continue
		}
		d.lines[k.Value] = k.Line
		if val.Kind == yaml.SequenceNode {
			for j, item := range val.Content {
				d.lines[fmt.Sprintf("%s[%d]", k.Value, j)] = item.Line
			}
		}
		// Decode each value on its own so that a wrong type is reported
		// at its line.
		if err := val.Decode(v.Field(idx).Addr().Interface()); err != nil {
			errs = append(errs, &Error{
				File: source, Line: val.Line, Field: k.Value,
				Err: problemf(ErrInvalid, "want %s, got %s", describe(v.Field(idx).Type()), describeNode(val)),
			})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The strict decode of the whole document is the authority: it catches
	// whatever the walk above let through.
	strict := &Definition{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(strict); err != nil {
		return nil, &Error{File: source, Err: problemf(ErrInvalid, "%s", strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	d.Source = source
	return d, nil
}

// yamlFields maps the YAML keys of struct type t to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}

// describe names a Go type as a YAML author thinks of it.
func describe(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 45s or 2m"
	case t.Kind() == reflect.Slice:
		return "a list of strings"
	case t.Kind() == reflect.Int:
		return "an integer"
	}
	return "a string"
}

// describeNode names what a YAML node holds.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	}
	return "something else"
}
