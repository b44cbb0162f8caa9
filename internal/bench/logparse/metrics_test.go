package logparse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		truth, pred []string
		want        Scores
	}{
		{
			name:  "perfect",
			truth: []string{"A", "A", "B"},
			pred:  []string{"A", "A", "B"},
			want:  Scores{GA: 1, FGA: 1, PA: 1, FTA: 1},
		},
		{
			// Grouping is right, every string is wrong: GA and FGA count
			// groups, PA and FTA count strings.
			name:  "right groups wrong strings",
			truth: []string{"A", "A", "B"},
			pred:  []string{"x", "x", "y"},
			want:  Scores{GA: 1, FGA: 1, PA: 0, FTA: 0},
		},
		{
			name:  "everything in one group",
			truth: []string{"A", "A", "B"},
			pred:  []string{"A", "A", "A"},
			want:  Scores{GA: 0, FGA: 0, PA: 2.0 / 3, FTA: 0},
		},
		{
			// Truth group A is split over "A" and "z". GA credits only B;
			// FGA: C=1, PGA=1/3, RGA=1/2. FTA counts "A" as correct even
			// though it does not cover all of truth A (the reference does
			// not check coverage): PTA=2/3, RTA=1.
			name:  "split group and the FTA coverage quirk",
			truth: []string{"A", "A", "A", "B"},
			pred:  []string{"A", "A", "z", "B"},
			want:  Scores{GA: 0.25, FGA: 0.4, PA: 0.75, FTA: 0.8},
		},
		{
			// A predicted group equal to a truth group but covering more:
			// the group of B is wrong for GA even where strings match.
			name:  "prediction swallows another group",
			truth: []string{"A", "B", "B", "C"},
			pred:  []string{"B", "B", "B", "C"},
			want:  Scores{GA: 0.25, FGA: 0.4, PA: 0.75, FTA: 0.4},
		},
		{
			// Truth "NA" lines are dropped; a prediction pandas reads as
			// missing ("null") is the empty string.
			name:  "missing values as pandas reads them",
			truth: []string{"A", "NA", "B"},
			pred:  []string{"A", "x", "null"},
			want:  Scores{GA: 1, FGA: 1, PA: 0.5, FTA: 0.5},
		},
		{
			name:  "empty",
			truth: nil,
			pred:  nil,
			want:  Scores{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Score(tt.truth, tt.pred)
			require.NoError(t, err)
			require.InDelta(t, tt.want.GA, got.GA, 1e-9, "GA")
			require.InDelta(t, tt.want.FGA, got.FGA, 1e-9, "FGA")
			require.InDelta(t, tt.want.PA, got.PA, 1e-9, "PA")
			require.InDelta(t, tt.want.FTA, got.FTA, 1e-9, "FTA")
		})
	}
}

func TestScoreLengthMismatch(t *testing.T) {
	t.Parallel()
	_, err := Score([]string{"a"}, nil)
	require.Error(t, err)
}
