package memory

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s / (norm(a) * norm(b))
}

func TestHashEmbedderDeterministicAndNormalised(t *testing.T) {
	t.Parallel()
	texts := []string{
		"psycopg2.OperationalError could not connect to server: Connection refused <*>",
		"KeyError 'ds'",
		"",
		"12345 67.89",
	}
	a, err := NewHashEmbedder(0).Embed(context.Background(), texts)
	require.NoError(t, err)
	b, err := NewHashEmbedder(DefaultHashDim).Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Equal(t, a, b, "same input must give the same vectors")
	require.Len(t, a, len(texts))
	for i, v := range a {
		require.Len(t, v, DefaultHashDim)
		if i >= 2 { // empty and numbers-only texts have no features
			require.Zero(t, norm(v), "text %q", texts[i])
			continue
		}
		require.InDelta(t, 1.0, norm(v), 1e-5, "text %q", texts[i])
	}
}

func TestHashEmbedderSimilarity(t *testing.T) {
	t.Parallel()
	e := NewHashEmbedder(256)
	tests := []struct {
		name, query, similar, unrelated string
	}{
		{
			name:      "connection refused",
			query:     "OperationalError could not connect to server: Connection refused host <*> port <*>",
			similar:   "OperationalError could not connect to server: Connection refused is the server running on host <*>",
			unrelated: "KeyError 'execution_date' not found in context",
		},
		{
			name:      "out of memory",
			query:     "MemoryError Unable to allocate <*> GiB for an array with shape <*>",
			similar:   "MemoryError unable to allocate <*> MiB for array",
			unrelated: "AirflowTaskTimeout Timeout, PID: <*>",
		},
		{
			name:      "s3 access denied",
			query:     "botocore.exceptions.ClientError An error occurred (AccessDenied) when calling the GetObject operation",
			similar:   "ClientError An error occurred (AccessDenied) when calling the PutObject operation: Access Denied",
			unrelated: "ZeroDivisionError division by zero",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := e.Embed(context.Background(), []string{tt.query, tt.similar, tt.unrelated})
			require.NoError(t, err)
			sim, unrel := cosine(v[0], v[1]), cosine(v[0], v[2])
			require.Greater(t, sim, unrel, "similar %.3f should beat unrelated %.3f", sim, unrel)
			require.Greater(t, sim, 0.5)
		})
	}
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	require.Equal(t,
		[]string{"psycopg2.operationalerror", "psycopg2", "operationalerror", "port", "is_open", "is", "open"},
		tokenize("psycopg2.OperationalError: port 5432 is_open 1.5 ..."))
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []float32
		want error
	}{
		{"empty", nil, ErrEmptyVector},
		{"zero", []float32{0, 0}, ErrZeroVector},
		{"nan", []float32{float32(math.NaN()), 1}, ErrBadVector},
		{"inf", []float32{float32(math.Inf(1)), 1}, ErrBadVector},
		{"ok", []float32{3, 4}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := normalize(tt.in)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.InDeltaSlice(t, []float32{0.6, 0.8}, got, 1e-6)
		})
	}
}

func FuzzHashEmbedder(f *testing.F) {
	f.Add("psycopg2.OperationalError: could not connect")
	f.Add("")
	f.Add("\xff\xfe__..")
	e := NewHashEmbedder(64)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := e.Embed(context.Background(), []string{s})
		require.NoError(t, err)
		require.Len(t, v[0], 64)
		if n := norm(v[0]); n != 0 {
			require.InDelta(t, 1.0, n, 1e-5)
		}
	})
}
