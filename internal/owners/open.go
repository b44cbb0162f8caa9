package owners

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/medic-sh/medic/internal/owners/dbt"
)

// Defaults for Config limits.
const (
	// DefaultMaxDownstream bounds each impact list (tasks, dbt nodes).
	DefaultMaxDownstream = 500
	// DefaultBroadImpact is how many downstream items make an impact broad.
	DefaultBroadImpact = 20
)

// Config says where ownership data lives. Every file is optional.
type Config struct {
	// RulesFile is the ownership file (docs/ownership.md).
	RulesFile string
	// Manifest is a dbt target/manifest.json.
	Manifest string
	// ManifestSchema is dbt's manifest v12 JSON Schema file; without it
	// manifests are not validated.
	ManifestSchema string
	// ManifestMaxBytes refuses larger manifests; 0 means 256 MiB.
	ManifestMaxBytes int64
	// ManifestValidateMaxBytes skips validating larger manifests; 0 means
	// 32 MiB.
	ManifestValidateMaxBytes int64
	// ManifestWarnOnly loads v12 manifests that fail validation, with a note.
	ManifestWarnOnly bool
	// MaxDownstream bounds the downstream tasks, and separately the
	// downstream dbt nodes, walked; 0 means DefaultMaxDownstream.
	MaxDownstream int
	// BroadImpact is the number of downstream items above which the impact
	// counts as broad for severity; 0 means DefaultBroadImpact.
	BroadImpact int
}

func (c Config) withDefaults() Config {
	if c.MaxDownstream <= 0 {
		c.MaxDownstream = DefaultMaxDownstream
	}
	if c.BroadImpact <= 0 {
		c.BroadImpact = DefaultBroadImpact
	}
	return c
}

// Resolver answers who owns a failed task and what its failure breaks. It
// is immutable once opened and safe for concurrent use.
type Resolver struct {
	cfg       Config
	validator *dbt.Validator
	rules     *Rules
	manifest  *dbt.Manifest
	notes     []Note
}

// Open loads the configured files. It never fails: a file that cannot be
// used becomes a Note on the resolver and on every Result, and resolution
// goes on with the sources that remain (Airflow owners and tags at least).
func Open(ctx context.Context, cfg Config) *Resolver {
	r := &Resolver{cfg: cfg.withDefaults()}
	if cfg.ManifestSchema != "" {
		r.validator = dbt.NewValidator(cfg.ManifestSchema)
	}
	r.load(ctx)
	return r
}

// Reload opens the same files again (a dbt run writes a new manifest),
// reusing the compiled schema.
func (r *Resolver) Reload(ctx context.Context) *Resolver {
	n := &Resolver{cfg: r.cfg, validator: r.validator}
	n.load(ctx)
	return n
}

// Notes returns the problems found while opening the files.
func (r *Resolver) Notes() []Note { return slices.Clone(r.notes) }

// maxLoadNotes bounds how many ownership-file problems become notes.
const maxLoadNotes = 10

func (r *Resolver) load(ctx context.Context) {
	if r.cfg.RulesFile != "" {
		rules, err := LoadRules(r.cfg.RulesFile)
		if err != nil {
			r.notef(NoteRulesUnavailable, "ownership file not used: %s", summarizeRuleErrors(err))
		} else {
			r.rules = rules
		}
	}
	if r.cfg.Manifest == "" {
		return
	}
	m, err := dbt.Load(ctx, r.cfg.Manifest, dbt.Options{
		MaxBytes: r.cfg.ManifestMaxBytes, Schema: r.validator,
		ValidateMaxBytes: r.cfg.ManifestValidateMaxBytes, WarnOnly: r.cfg.ManifestWarnOnly,
	})
	switch {
	case errors.Is(err, dbt.ErrInvalid):
		r.notef(NoteManifestInvalid, "dbt manifest not used: %s", err)
	case err != nil:
		r.notef(NoteManifestUnavailable, "dbt manifest not used: %s", err)
	default:
		r.manifest = m
		for _, w := range m.Warnings {
			r.notef(NoteManifestWarning, "dbt manifest %s: %s", m.Source, w)
		}
	}
}

func summarizeRuleErrors(err error) string {
	problems := RuleErrors(err)
	if len(problems) == 0 {
		return err.Error()
	}
	msgs := make([]string, 0, min(len(problems), maxLoadNotes))
	for i := 0; i < len(problems) && i < maxLoadNotes; i++ {
		msgs = append(msgs, problems[i].Error())
	}
	s := strings.Join(msgs, "; ")
	if more := len(problems) - len(msgs); more > 0 {
		s += fmt.Sprintf("; and %d more", more)
	}
	return s
}

func (r *Resolver) notef(kind NoteKind, format string, args ...any) {
	r.notes = append(r.notes, Note{Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// NoteKind classifies a Note.
type NoteKind string

// Note kinds. None of them stops resolution.
const (
	NoteRulesUnavailable    NoteKind = "rules_unavailable"    // the ownership file failed to load
	NoteManifestUnavailable NoteKind = "manifest_unavailable" // missing, unreadable, too large, not JSON
	NoteManifestInvalid     NoteKind = "manifest_invalid"     // failed schema validation
	NoteManifestWarning     NoteKind = "manifest_warning"     // loaded, with a caveat
	NoteModelUnmapped       NoteKind = "model_unmapped"       // a dbt_models rule names an unknown model
	NoteBadValue            NoteKind = "bad_value"            // a tag or dbt meta value that is not understood
	NoteNoGraph             NoteKind = "no_graph"             // no task graph: downstream tasks unknown
	NoteTruncated           NoteKind = "impact_truncated"     // an impact list hit its bound
	NoteNoOwner             NoteKind = "no_owner"             // nobody to notify
)

// Note is something degraded or doubtful about a Result, to be shown with
// it; it is never a reason to fail.
type Note struct {
	Kind    NoteKind `json:"kind"`
	Message string   `json:"message"`
}
