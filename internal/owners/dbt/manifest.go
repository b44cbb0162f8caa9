// Package dbt reads the parts of a dbt manifest.json that ownership and
// impact need: models with their owners, groups, exposures and the child
// map, plus the conventions that tie an Airflow task or an error message to
// a model.
//
// A manifest is outside input: it is read with a size limit, decoded as a
// stream (one node at a time, skipping the sections it does not use),
// checked against the dbt JSON Schema when one is configured, and never
// trusted to be well-formed. This package must never panic on a manifest,
// never fetch anything from the network and never hold a whole manifest as
// a generic tree except to validate one under ValidateMaxBytes.
package dbt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Defaults for Options.
const (
	// DefaultMaxBytes is the largest manifest Load reads.
	DefaultMaxBytes int64 = 256 << 20
	// DefaultValidateMaxBytes is the largest manifest checked against the
	// schema: validation holds the whole document in memory, several times
	// its size.
	DefaultValidateMaxBytes int64 = 32 << 20
)

// SchemaV12 is the dbt_schema_version of the manifests this package
// validates strictly, and the $id of their schema.
const SchemaV12 = "https://schemas.getdbt.com/dbt/manifest/v12.json"

// The kinds of manifest problem; every error from Load and Parse matches one
// with errors.Is, or is the context's error.
var (
	// ErrTooLarge is a manifest over Options.MaxBytes.
	ErrTooLarge = errors.New("manifest too large")
	// ErrMalformed is a manifest that is not JSON, or not a JSON object.
	ErrMalformed = errors.New("malformed manifest")
	// ErrInvalid is a v12 manifest that does not match the v12 schema; it
	// is a *ValidationError.
	ErrInvalid = errors.New("manifest does not match its schema")
	// ErrSchema is a schema file that cannot be read or compiled.
	ErrSchema = errors.New("manifest schema unavailable")
)

// Options bound and check a manifest load. The zero value reads up to
// DefaultMaxBytes without validating.
type Options struct {
	// MaxBytes refuses larger manifests; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Schema validates the manifest; nil skips validation (with a warning).
	Schema *Validator
	// ValidateMaxBytes skips validation (with a warning) of larger
	// manifests; 0 means DefaultValidateMaxBytes.
	ValidateMaxBytes int64
	// WarnOnly turns schema problems of a v12 manifest into warnings.
	// Manifests of other schema versions are always checked warn-only.
	WarnOnly bool
}

func (o *Options) maxBytes() int64 {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return DefaultMaxBytes
}

func (o *Options) validateMaxBytes() int64 {
	if o.ValidateMaxBytes > 0 {
		return o.ValidateMaxBytes
	}
	return DefaultValidateMaxBytes
}

// Node is a model, seed, snapshot or test of the manifest.
type Node struct {
	UniqueID     string
	Name         string
	ResourceType string // model, seed, snapshot, test, …
	Package      string
	Path         string // original_file_path, e.g. models/marts/orders.sql
	Database     string
	Schema       string
	Alias        string
	RelationName string // as the adapter quotes it: "analytics"."marts"."orders"
	// Group is the node's dbt group, from group or config.group.
	Group string
	Tags  []string
	// Owners are meta.owner (else config.meta.owner): a string or a list.
	Owners []string
	// Tier is meta.tier (else config.meta.tier) as written, e.g. "1" or
	// "tier1"; the owners package interprets it.
	Tier string
	// AttachedNode is, for a test, the node it tests.
	AttachedNode string
	DependsOn    []string
}

// Exposure is a downstream use of models: a dashboard, an application.
type Exposure struct {
	UniqueID    string
	Name        string
	Label       string
	Type        string // dashboard, notebook, analysis, ml, application
	Maturity    string // high, medium, low or ""
	URL         string
	OwnerName   string
	OwnerEmails []string
	// Tier is meta.tier (else config.meta.tier) as written.
	Tier      string
	DependsOn []string
}

// Group is a dbt group: a set of models with one owner.
type Group struct {
	UniqueID    string
	Name        string
	OwnerName   string
	OwnerEmails []string
}

// Manifest is what medic keeps of a manifest.json.
type Manifest struct {
	// Source names where the manifest came from, for messages.
	Source        string
	SchemaVersion string
	DbtVersion    string
	ProjectName   string
	GeneratedAt   string
	// Validated reports whether the manifest was checked against the schema
	// (with or without problems: see Warnings).
	Validated bool
	Nodes     map[string]*Node
	Exposures map[string]*Exposure
	// Groups are keyed by group name, as nodes refer to them.
	Groups map[string]*Group
	// ChildMap maps a unique_id to the unique_ids that depend on it. When
	// the manifest has none it is derived from depends_on.
	ChildMap map[string][]string
	// Warnings are problems that did not stop the load: validation skipped
	// or failed in warn-only mode, values of an unexpected type.
	Warnings []string

	byName map[string][]string // model/seed/snapshot/test name → unique_ids
}

// Load reads the manifest at path. It refuses files over opts.MaxBytes
// before reading them, validates when opts.Schema is set, and stream-decodes
// the sections it needs.
func Load(ctx context.Context, path string, opts Options) (*Manifest, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load dbt manifest: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("load dbt manifest %s: is a directory, want manifest.json: %w", path, ErrMalformed)
	}
	if st.Size() > opts.maxBytes() {
		return nil, tooLarge(path, st.Size(), opts.maxBytes())
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	return load(ctx, path, st.Size(), open, opts)
}

// Parse is Load for a manifest held in memory; name is used in messages.
func Parse(ctx context.Context, data []byte, name string, opts Options) (*Manifest, error) {
	if int64(len(data)) > opts.maxBytes() {
		return nil, tooLarge(name, int64(len(data)), opts.maxBytes())
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return load(ctx, name, int64(len(data)), open, opts)
}

// tooLarge explains a refused manifest; size < 0 means it grew while read.
func tooLarge(name string, size, limit int64) error {
	what := fmt.Sprintf("%d bytes,", size)
	if size < 0 {
		what = "grew while being read,"
	}
	return fmt.Errorf("load dbt manifest %s: %s over the limit of %d bytes; raise the manifest size limit or point medic at a smaller project's manifest: %w",
		name, what, limit, ErrTooLarge)
}

func load(ctx context.Context, name string, size int64, open func() (io.ReadCloser, error), opts Options) (*Manifest, error) {
	m := &Manifest{Source: name}
	var schemaProblems *ValidationError
	switch {
	case opts.Schema == nil:
		m.warnf("not validated: no manifest schema is configured")
	case size > opts.validateMaxBytes():
		m.warnf("not validated: %d bytes is over the validation limit of %d", size, opts.validateMaxBytes())
	default:
		ve, version, err := validate(ctx, name, open, opts)
		if err != nil {
			return nil, err
		}
		m.Validated = true
		if ve != nil {
			if version == SchemaV12 && !opts.WarnOnly {
				return nil, fmt.Errorf("load dbt manifest: %w", ve)
			}
			schemaProblems = ve
		}
	}
	r, err := open()
	if err != nil {
		return nil, fmt.Errorf("load dbt manifest %s: %w", name, err)
	}
	defer r.Close()
	lr := &boundedReader{stop: ctx.Err, r: r, left: opts.maxBytes(), name: name, limit: opts.maxBytes()}
	if err := decode(lr, m); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("load dbt manifest %s: %w", name, context.Cause(ctx))
		}
		return nil, err
	}
	if schemaProblems != nil {
		why := "warn-only mode"
		if m.SchemaVersion != SchemaV12 {
			why = fmt.Sprintf("schema version %q is not v12", m.SchemaVersion)
		}
		m.warnf("schema problems ignored (%s): %s", why, schemaProblems.Summary())
	}
	m.index()
	return m, nil
}

// maxWarnings bounds Manifest.Warnings; later ones are counted.
const maxWarnings = 20

func (m *Manifest) warnf(format string, args ...any) {
	switch n := len(m.Warnings); {
	case n < maxWarnings:
		m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...))
	case n == maxWarnings:
		m.Warnings = append(m.Warnings, "further warnings omitted")
	}
}

// index builds the lookups and derives a child map when the file had none.
func (m *Manifest) index() {
	m.byName = map[string][]string{}
	for id, n := range m.Nodes {
		if n.Name != "" {
			m.byName[n.Name] = append(m.byName[n.Name], id)
		}
	}
	for _, ids := range m.byName {
		sort.Strings(ids)
	}
	if m.ChildMap != nil {
		return
	}
	m.ChildMap = map[string][]string{}
	add := func(child string, parents []string) {
		for _, p := range parents {
			m.ChildMap[p] = append(m.ChildMap[p], child)
		}
	}
	for id, n := range m.Nodes {
		add(id, n.DependsOn)
	}
	for id, e := range m.Exposures {
		add(id, e.DependsOn)
	}
	for _, kids := range m.ChildMap {
		sort.Strings(kids)
	}
	if len(m.ChildMap) > 0 {
		m.warnf("manifest has no child_map: derived it from depends_on")
	}
}

// boundedReader stops reading at a size limit (a file that grew after it
// was measured) and as soon as stop (the context's Err) reports an error.
type boundedReader struct {
	stop  func() error
	r     io.Reader
	left  int64
	limit int64
	name  string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if err := b.stop(); err != nil {
		return 0, err
	}
	if b.left <= 0 {
		// At the limit: the end of the input is fine, one byte more is not.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, tooLarge(b.name, -1, b.limit)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
