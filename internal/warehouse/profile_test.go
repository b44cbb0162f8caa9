package warehouse_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
)

func TestProfileSummary(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		p       warehouse.Profile
		want    []string
		partial bool
	}{
		"empty": {
			p:    warehouse.Profile{Warehouse: "wh", Kind: warehouse.KindPostgres},
			want: []string{"postgres warehouse wh", "nothing notable"},
		},
		"findings": {
			p: warehouse.Profile{
				Warehouse: "wh", Kind: warehouse.KindPostgres,
				Blocking:  []warehouse.BlockingPair{{}},
				LockWaits: []warehouse.LockWait{{}, {}},
				Tables:    []warehouse.TableStat{{}},
			},
			want: []string{"1 blocked session pair", "2 lock waits", "1 table with statistics"},
		},
		"errors": {
			p: warehouse.Profile{
				Warehouse: "wh", Kind: warehouse.KindPostgres,
				Errors: []*warehouse.Error{warehouse.NewError("connect", warehouse.ErrorUnavailable, errors.New("refused"))},
			},
			want:    []string{"could not read connect (unavailable)"},
			partial: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := c.p.Summary()
			for _, w := range c.want {
				require.Contains(t, s, w)
			}
			require.Equal(t, c.partial, c.p.Partial())
		})
	}
}

func TestTargetNormalize(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		in         warehouse.Target
		wantFailed time.Time
		wantWindow time.Duration
	}{
		{"defaults", warehouse.Target{}, now, warehouse.DefaultWindow},
		{"kept", warehouse.Target{FailedAt: now.Add(-time.Hour), Window: time.Minute}, now.Add(-time.Hour), time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := c.in.Normalize(now)
			require.Equal(t, c.wantFailed, got.FailedAt)
			require.Equal(t, c.wantWindow, got.Window)
		})
	}
}

func TestAddNoteIsCleaned(t *testing.T) {
	t.Parallel()
	var p warehouse.Profile
	p.AddNote("could not read %s", "password=hunter2hunter2")
	require.Len(t, p.Notes, 1)
	require.NotContains(t, p.Notes[0], "hunter2")
}
