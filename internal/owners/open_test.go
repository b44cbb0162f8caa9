package owners_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/owners"
	"github.com/medic-sh/medic/internal/sharedtest"
)

// TestOpenDegrades checks that every broken input becomes a note, and that
// resolution still answers from what is left.
func TestOpenDegrades(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "manifest.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("<html>502 Bad Gateway</html>"), 0o600))

	tests := []struct {
		name     string
		cfg      owners.Config
		kind     owners.NoteKind
		contains []string
	}{
		{
			name: "bad pattern in the ownership file",
			cfg:  owners.Config{RulesFile: filepath.Join("testdata", "bad_pattern.yaml")},
			kind: owners.NoteRulesUnavailable,
			contains: []string{
				"testdata/bad_pattern.yaml:7", `rules[1] ("broken")`, "match.dag", "character classes",
			},
		},
		{
			name:     "missing ownership file",
			cfg:      owners.Config{RulesFile: filepath.Join(dir, "nope.yaml")},
			kind:     owners.NoteRulesUnavailable,
			contains: []string{"open ownership file", "no such file"},
		},
		{
			name:     "missing manifest",
			cfg:      owners.Config{Manifest: filepath.Join(dir, "target", "manifest.json")},
			kind:     owners.NoteManifestUnavailable,
			contains: []string{"dbt manifest not used", "no such file"},
		},
		{
			name:     "manifest over the size limit",
			cfg:      owners.Config{Manifest: manifestFile, ManifestMaxBytes: 1024},
			kind:     owners.NoteManifestUnavailable,
			contains: []string{"over the limit of 1024 bytes"},
		},
		{
			name:     "manifest not JSON",
			cfg:      owners.Config{Manifest: notJSON},
			kind:     owners.NoteManifestUnavailable,
			contains: []string{"malformed manifest"},
		},
		{
			name:     "manifest not validated",
			cfg:      owners.Config{Manifest: manifestFile},
			kind:     owners.NoteManifestWarning,
			contains: []string{"no manifest schema is configured"},
		},
		{
			name:     "schema file missing",
			cfg:      owners.Config{Manifest: manifestFile, ManifestSchema: filepath.Join(dir, "v12.json")},
			kind:     owners.NoteManifestUnavailable,
			contains: []string{"manifest schema unavailable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := owners.Open(context.Background(), tt.cfg)
			notes := r.Notes()
			require.Len(t, notes, 1, "%v", notes)
			require.Equal(t, tt.kind, notes[0].Kind)
			for _, c := range tt.contains {
				require.Contains(t, notes[0].Message, c)
			}
			res, err := r.Resolve(context.Background(), owners.Input{
				DagID: "payments_daily", TaskID: "load", DagTags: []string{"team:payments", "tier:2"},
			})
			require.NoError(t, err)
			require.Equal(t, "payments", res.Owner.Team)
			require.Equal(t, owners.SourceDagTags, res.OwnerFrom["team"])
			require.Equal(t, incident.SeverityMedium, res.Severity)
			require.Equal(t, notes[0], res.Notes[0], "load notes are on every result")
		})
	}
}

func TestOpenValidatesManifest(t *testing.T) {
	t.Parallel()
	schemaPath := sharedtest.Dir(t, "specs", "dbt", "manifest-v12.json")
	tests := []struct {
		name     string
		manifest string
		warnOnly bool
		kind     owners.NoteKind // "" for no note
		usable   bool
	}{
		{name: "valid", manifest: "manifest.json", usable: true},
		{name: "invalid", manifest: "manifest_invalid.json", kind: owners.NoteManifestInvalid},
		{name: "invalid, warn-only", manifest: "manifest_invalid.json", warnOnly: true, kind: owners.NoteManifestWarning, usable: true},
		{name: "v11", manifest: "manifest_v11.json", kind: owners.NoteManifestWarning, usable: true},
	}
	first := owners.Open(context.Background(), owners.Config{ManifestSchema: schemaPath})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := owners.Open(context.Background(), owners.Config{
				Manifest: filepath.Join("dbt", "testdata", tt.manifest), ManifestSchema: schemaPath, ManifestWarnOnly: tt.warnOnly,
			})
			notes := r.Notes()
			if tt.kind == "" {
				require.Empty(t, notes)
			} else {
				require.Len(t, notes, 1)
				require.Equal(t, tt.kind, notes[0].Kind)
				require.Contains(t, notes[0].Message, "missing property 'checksum'")
			}
			res, err := r.Resolve(context.Background(), owners.Input{DagID: "shop_dbt", TaskID: "orders_run"})
			require.NoError(t, err)
			require.Equal(t, tt.usable, len(res.Models) == 1, "manifest used: %v", res.Models)
		})
	}
	require.Empty(t, first.Reload(context.Background()).Notes())
}
