package warehouse_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
)

func TestClean(t *testing.T) {
	t.Parallel()
	const secret = "hunter2hunter2hunter2"
	cases := map[string]struct {
		in      string
		limit   int
		gone    string // must not appear
		keep    string // must appear
		maxLen  int
		trimmed bool
	}{
		"password literal":   {in: "UPDATE users SET password = '" + secret + "' WHERE id = 1", gone: secret, keep: "UPDATE users", maxLen: warehouse.MaxText},
		"url credentials":    {in: "SELECT dblink('postgresql://app:" + secret + "@db/prod', 'x')", gone: secret, keep: "dblink", maxLen: warehouse.MaxText},
		"plain text kept":    {in: "SELECT count(*) FROM mart.orders", keep: "SELECT count(*) FROM mart.orders", maxLen: warehouse.MaxText},
		"capped":             {in: strings.Repeat("abc ", 1000), limit: 100, maxLen: 100, trimmed: true},
		"capped multibyte":   {in: strings.Repeat("é", 500), limit: 101, maxLen: 101, trimmed: true},
		"huge with secret":   {in: strings.Repeat("x ", 50000) + "password=" + secret, limit: 200, gone: secret, maxLen: 200, trimmed: true},
		"secret at pre-cut":  {in: strings.Repeat("y ", 4*100+500) + "password=" + secret + strings.Repeat(" z", 5000), limit: 100, gone: secret, maxLen: 100, trimmed: true},
		"invalid utf8":       {in: "SELECT '\xff\xfe'", keep: "SELECT", maxLen: warehouse.MaxText},
		"empty":              {in: "", maxLen: 0},
		"default limit used": {in: strings.Repeat("q", 3*warehouse.MaxText), maxLen: warehouse.MaxText, trimmed: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := warehouse.Clean(c.in, c.limit)
			require.True(t, utf8.ValidString(out))
			require.LessOrEqual(t, len(out), c.maxLen)
			if c.gone != "" {
				require.NotContains(t, out, c.gone)
			}
			if c.keep != "" {
				require.Contains(t, out, c.keep)
			}
			require.Equal(t, c.trimmed, strings.HasSuffix(out, "[truncated]"))
		})
	}
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	base := errors.New("connect to db password=hunter2hunter2 failed")
	cases := []struct {
		kind      warehouse.ErrorKind
		retryable bool
	}{
		{warehouse.ErrorUnavailable, true},
		{warehouse.ErrorTimeout, true},
		{warehouse.ErrorRejected, false},
		{warehouse.ErrorPermission, false},
		{warehouse.ErrorCanceled, true},
		{warehouse.ErrorQuery, false},
	}
	for _, c := range cases {
		t.Run(string(c.kind), func(t *testing.T) {
			t.Parallel()
			e := warehouse.NewError("activity", c.kind, base)
			require.Equal(t, c.retryable, e.Retryable)
			require.ErrorIs(t, e, base)
			require.NotContains(t, e.Error(), "hunter2")
			require.Contains(t, e.Error(), "activity")
			require.Contains(t, e.Error(), string(c.kind))
		})
	}
}
