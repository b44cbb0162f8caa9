package ingest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/sharedtest"
)

// olSpec is the OpenLineage schema with its saved facet schemas, compiled
// from the team's shared copy (specs/openlineage), never fetched.
type olSpec struct {
	event *jsonschema.Schema
	// runFacets and jobFacets each validate run.facets or job.facets: every
	// facet schema describes the facets object holding its facet.
	runFacets map[string]*jsonschema.Schema
	jobFacets map[string]*jsonschema.Schema
}

var (
	olSpecOnce sync.Once
	olSpecVal  *olSpec
	errOLSpec  error
)

// loadOLSpec compiles the schemas once per test binary; it skips (fails
// under CI=true) when the shared data is absent.
func loadOLSpec(t testing.TB) *olSpec {
	t.Helper()
	dir := sharedtest.Dir(t, "specs", "openlineage")
	olSpecOnce.Do(func() { olSpecVal, errOLSpec = compileOLSpec(dir) })
	require.NoError(t, errOLSpec)
	return olSpecVal
}

func compileOLSpec(dir string) (*olSpec, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// A facet schema refers to the core schema by its $id; every file is
	// added under its own $id so that no reference leaves this directory.
	add := func(path string) (string, error) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return "", err
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		return id, c.AddResource(id, doc)
	}
	coreID, err := add(filepath.Join(dir, "OpenLineage.json"))
	if err != nil {
		return nil, err
	}
	facetFiles, err := filepath.Glob(filepath.Join(dir, "facets", "*.json"))
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, f := range facetFiles {
		id, err := add(f)
		if err != nil {
			return nil, err
		}
		ids[filepath.Base(f)] = id
	}
	spec := &olSpec{runFacets: map[string]*jsonschema.Schema{}, jobFacets: map[string]*jsonschema.Schema{}}
	if spec.event, err = c.Compile(coreID); err != nil {
		return nil, err
	}
	for name, id := range ids {
		sch, err := c.Compile(id)
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasSuffix(name, "RunFacet.json"):
			spec.runFacets[name] = sch
		case strings.HasSuffix(name, "JobFacet.json"):
			spec.jobFacets[name] = sch
		}
	}
	return spec, nil
}

// validate checks an event against the core schema and its run and job
// facets against every saved facet schema.
func (s *olSpec) validate(body []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := s.event.Validate(doc); err != nil {
		return err
	}
	ev, _ := doc.(map[string]any)
	for _, part := range []struct {
		key     string
		schemas map[string]*jsonschema.Schema
	}{{"run", s.runFacets}, {"job", s.jobFacets}} {
		obj, _ := ev[part.key].(map[string]any)
		facets, ok := obj["facets"]
		if !ok {
			continue
		}
		for _, sch := range part.schemas {
			if err := sch.Validate(facets); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestOpenLineageFixturesMatchSpec keeps the fixtures real: each must be a
// valid OpenLineage event, facets included, so that the decoder is tested
// against what a conforming producer sends.
func TestOpenLineageFixturesMatchSpec(t *testing.T) {
	t.Parallel()
	spec := loadOLSpec(t)
	fixtures, err := filepath.Glob(filepath.Join("testdata", "openlineage*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(fixtures), 5)
	for _, f := range fixtures {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			require.NoError(t, spec.validate(readFixture(t, filepath.Base(f))))
		})
	}
}

// TestOpenLineageSpecCatchesBadFixtures proves the check above bites.
func TestOpenLineageSpecCatchesBadFixtures(t *testing.T) {
	t.Parallel()
	spec := loadOLSpec(t)
	tests := []struct {
		name string
		edit func(ev map[string]any)
	}{
		{"unknown event type", func(ev map[string]any) { ev["eventType"] = "FAILED" }},
		{"run id not a uuid", func(ev map[string]any) { at(ev, "run")["runId"] = "run-1" }},
		{"no producer", func(ev map[string]any) { delete(ev, "producer") }},
		{"error facet without language", func(ev map[string]any) {
			delete(at(ev, "run", "facets", "errorMessage"), "programmingLanguage")
		}},
		{"parent without job", func(ev map[string]any) { delete(at(ev, "run", "facets", "parent"), "job") }},
		{"job type without integration", func(ev map[string]any) {
			delete(at(ev, "job", "facets", "jobType"), "integration")
		}},
		{"dataset without namespace", func(ev map[string]any) {
			ev["inputs"] = []any{map[string]any{"name": "t"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, spec.validate(olEdit(t, "openlineage_fail.json", tt.edit)))
		})
	}
}
