package memorybench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), Options{Records: []int{1, 999, 20_000}, Queries: 30, Dim: 64, Seed: 3})
	require.NoError(t, err)
	require.Len(t, res.Sizes, 3)
	for _, s := range res.Sizes {
		require.Equal(t, 1.0, s.Recall, "exact search has recall 1 (records %d)", s.Records)
		require.Equal(t, 20, s.RecallChecks)
		require.Positive(t, s.P50Millis)
		require.GreaterOrEqual(t, s.P99Millis, s.P50Millis)
		require.GreaterOrEqual(t, s.MaxMillis, s.P99Millis)
		require.Equal(t, int64(s.Records)*64*4, s.VectorBytes)
	}
	require.Equal(t, 10, res.K)

	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.Contains(t, table.String(), "recall@10")
	require.Contains(t, table.String(), "20000")

	var js bytes.Buffer
	require.NoError(t, res.WriteJSON(&js))
	require.Equal(t, 1, strings.Count(js.String(), "\n"), "one line")
	var back Result
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, res.Sizes[2].Records, back.Sizes[2].Records)
}

func TestRunRejectsBadOptions(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), Options{Records: []int{0}})
	require.Error(t, err)
	_, err = Run(context.Background(), Options{Records: []int{10}, Dim: -1})
	require.Error(t, err)
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Records: []int{1000}, Queries: 5, Dim: 8})
	require.ErrorIs(t, err, context.Canceled)
}

func TestParseRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "10k,100k,1M", want: []int{10_000, 100_000, 1_000_000}},
		{in: " 500 , 2K", want: []int{500, 2000}},
		{in: "", wantErr: true},
		{in: "10k,", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "1G", wantErr: true},
		{in: "200M", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRecords(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrBadRecords)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseRecords(f *testing.F) {
	f.Add("10k,100k,1M")
	f.Add("0")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRecords(s)
		if err != nil {
			return
		}
		for _, n := range got {
			require.Positive(t, n)
			require.LessOrEqual(t, n, 100_000_000)
		}
	})
}

// TestReport runs the real benchmark when MEDIC_BENCH_MEMORY_RECORDS is set
// (e.g. "10k,100k,1M"), until `medic bench memory` is wired in the CLI:
//
//	MEDIC_BENCH_MEMORY_RECORDS=10k,100k go test -run TestReport -v ./internal/bench/memory/
func TestReport(t *testing.T) {
	spec := os.Getenv("MEDIC_BENCH_MEMORY_RECORDS")
	if spec == "" {
		t.Skip("set MEDIC_BENCH_MEMORY_RECORDS=10k,100k,1M to run the benchmark")
	}
	records, err := ParseRecords(spec)
	require.NoError(t, err)
	res, err := Run(context.Background(), Options{Records: records, Seed: 1})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, res.WriteTable(&out))
	require.NoError(t, res.WriteJSON(&out))
	t.Log("\n" + out.String())
}
