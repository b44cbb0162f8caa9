package dbt

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBoundedReader(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		in      string
		limit   int64
		stop    func() error
		want    string
		wantErr error
	}{
		{name: "under the limit", in: "abc", limit: 5, stop: context.Background().Err, want: "abc"},
		{name: "exactly the limit", in: "abcde", limit: 5, stop: context.Background().Err, want: "abcde"},
		{name: "grew past the limit", in: "abcdef", limit: 5, stop: context.Background().Err, wantErr: ErrTooLarge},
		{name: "canceled", in: "abc", limit: 5, stop: canceled.Err, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &boundedReader{stop: tt.stop, r: strings.NewReader(tt.in), left: tt.limit, limit: tt.limit, name: "m.json"}
			got, err := io.ReadAll(r)
			if tt.wantErr != nil {
				require.True(t, errors.Is(err, tt.wantErr), "got %v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"aé", 2, "a…"}, // never splits a character
	} {
		require.Equal(t, tt.want, clip(tt.in, tt.n))
	}
}
