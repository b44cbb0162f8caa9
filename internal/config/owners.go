package config

import "path/filepath"

// Owners says where the owner-notifier finds ownership data beyond what
// Airflow says (docs/ownership.md). Every file is optional; with none the
// owner-notifier uses Airflow's owners and tags alone. A file that cannot
// be used does not stop medic: it is logged at start and noted on every
// report, and the other sources still answer.
type Owners struct {
	// File is the ownership file: rules mapping DAGs, tasks, tables and
	// datasets to teams. A relative path is relative to the configuration
	// file.
	File string `yaml:"file"`
	// DbtManifest is a dbt target/manifest.json, for model owners, tiers
	// and downstream lineage. Relative like File.
	DbtManifest string `yaml:"dbt_manifest"`
	// DbtManifestSchema is dbt's manifest v12 JSON Schema, to validate the
	// manifest against; without it the manifest is read unvalidated.
	// Relative like File. medic never fetches a schema from the network.
	DbtManifestSchema string `yaml:"dbt_manifest_schema"`
	// ManifestMaxBytes refuses larger manifests.
	ManifestMaxBytes int64 `yaml:"manifest_max_bytes"`
	// ManifestValidateMaxBytes skips validating larger manifests:
	// validation holds the whole document in memory.
	ManifestValidateMaxBytes int64 `yaml:"manifest_validate_max_bytes"`
	// ManifestWarnOnly uses a v12 manifest that fails validation, with a
	// warning, instead of ignoring it.
	ManifestWarnOnly bool `yaml:"manifest_warn_only"`
	// MaxDownstream bounds the downstream tasks, and separately the
	// downstream dbt nodes, an impact lists.
	MaxDownstream int `yaml:"max_downstream"`
	// BroadImpact is the number of downstream items above which an impact
	// counts as broad for severity.
	BroadImpact int `yaml:"broad_impact"`
}

// Limits that Validate enforces on the owners section.
const (
	MaxManifestBytes     int64 = 4 << 30
	MaxOwnersDownstream        = 100_000
	defaultManifestBytes int64 = 256 << 20
	defaultValidateBytes int64 = 32 << 20
	defaultMaxDownstream       = 500
	defaultBroadImpact         = 20
)

func defaultOwners() Owners {
	return Owners{
		ManifestMaxBytes: defaultManifestBytes, ManifestValidateMaxBytes: defaultValidateBytes,
		MaxDownstream: defaultMaxDownstream, BroadImpact: defaultBroadImpact,
	}
}

// Configured reports whether any ownership data beyond Airflow's is
// configured.
func (o Owners) Configured() bool { return o.File != "" || o.DbtManifest != "" }

// resolvePaths makes the section's relative paths relative to dir, the
// configuration file's directory, as *_file paths are.
func (o *Owners) resolvePaths(dir string) {
	for _, p := range []*string{&o.File, &o.DbtManifest, &o.DbtManifestSchema} {
		if *p != "" && dir != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

func (o Owners) validate(v *validator) {
	const p = "owners"
	v.atLeast(p+".manifest_max_bytes", o.ManifestMaxBytes, 1)
	v.atLeast(p+".manifest_validate_max_bytes", o.ManifestValidateMaxBytes, 1)
	if o.ManifestMaxBytes > MaxManifestBytes {
		v.add(p+".manifest_max_bytes", "want at most %d (4 GiB), got %d", MaxManifestBytes, o.ManifestMaxBytes)
	}
	if o.ManifestValidateMaxBytes > o.ManifestMaxBytes && o.ManifestMaxBytes > 0 {
		v.add(p+".manifest_validate_max_bytes", "must be at most owners.manifest_max_bytes (%d): a manifest too large to read cannot be validated; got %d",
			o.ManifestMaxBytes, o.ManifestValidateMaxBytes)
	}
	if o.MaxDownstream < 1 || o.MaxDownstream > MaxOwnersDownstream {
		v.add(p+".max_downstream", "want from 1 to %d, got %d", MaxOwnersDownstream, o.MaxDownstream)
	}
	v.atLeast(p+".broad_impact", int64(o.BroadImpact), 1)
	if o.DbtManifest == "" {
		const hint = "is only used with owners.dbt_manifest: set the manifest's path, or remove it"
		if o.DbtManifestSchema != "" {
			v.add(p+".dbt_manifest_schema", "%s", hint)
		}
		if o.ManifestWarnOnly {
			v.add(p+".manifest_warn_only", "%s", hint)
		}
	}
}
