package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// eventDatasetTests check that the datasets of a failure (named by an
// OpenLineage event) are stored with it, filled in by a later delivery when
// the first report had none, never overwritten, and bounded.
var eventDatasetTests = []struct {
	name string
	fn   func(t *testing.T, h *Harness)
}{
	{"EventDatasetsRoundTrip", testEventDatasets},
	{"EventDatasetsRejectsInvalid", testEventDatasetsInvalid},
}

func testEventDatasets(t *testing.T, h *Harness) {
	ctx := context.Background()
	tests := []struct {
		name    string
		reports [][]string // the datasets of each delivery of one failure
		want    []string
	}{
		{"none", [][]string{nil}, nil},
		{
			"one report",
			[][]string{{"postgres://wh:5432/analytics.public.orders", "s3://lake/raw/orders"}},
			[]string{"postgres://wh:5432/analytics.public.orders", "s3://lake/raw/orders"},
		},
		{"filled in by a later delivery", [][]string{nil, {"s3://lake/raw/orders"}}, []string{"s3://lake/raw/orders"}},
		{"first report kept", [][]string{{"s3://lake/a"}, {"s3://lake/b"}, nil}, []string{"s3://lake/a"}},
	}
	for _, tt := range tests {
		run := "run_" + tt.name
		var incID string
		for i, ds := range tt.reports {
			ev := Event("etl", run, "load", 1)
			ev.Datasets = ds
			if i > 0 {
				ev.Source = incident.SourceOpenLineage
			}
			res := record(t, h, ev)
			require.Equal(t, i > 0, res.Duplicate, tt.name)
			incID = res.Incident.ID
		}
		events, err := h.Store.EventListByIncident(ctx, incID)
		require.NoError(t, err)
		require.Len(t, events, 1, tt.name)
		require.Equal(t, tt.want, events[0].Datasets, tt.name)
	}
}

func testEventDatasetsInvalid(t *testing.T, h *Harness) {
	ctx := context.Background()
	tooMany := make([]string, incident.MaxDatasets+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("s3://lake/t%d", i)
	}
	for name, ds := range map[string][]string{
		"too many":   tooMany,
		"too long":   {strings.Repeat("x", incident.MaxDatasetLen+1)},
		"empty":      {""},
		"newline in": {"s3://lake/a\nb"},
	} {
		ev := Event("etl", "r1", "load", 1)
		ev.Datasets = ds
		_, err := h.Store.EventRecord(ctx, &store.EventRecordParams{Event: ev, Window: time.Hour})
		require.ErrorIs(t, err, incident.ErrInvalid, name)
	}
	list, err := h.Store.IncidentList(ctx, &store.IncidentListParams{})
	require.NoError(t, err)
	require.Zero(t, list.Total, "nothing half-stored")
}
