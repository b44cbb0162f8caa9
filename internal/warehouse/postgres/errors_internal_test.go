package postgres

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("run: %w", &pgconn.PgError{Code: code}) }
	cases := map[string]struct {
		err  error
		want warehouse.ErrorKind
	}{
		"statement timeout":    {pg("57014"), warehouse.ErrorTimeout},
		"lock timeout":         {pg("55P03"), warehouse.ErrorTimeout},
		"permission":           {pg("42501"), warehouse.ErrorPermission},
		"bad password":         {pg("28P01"), warehouse.ErrorPermission},
		"too many connections": {pg("53300"), warehouse.ErrorUnavailable},
		"connection failure":   {pg("08006"), warehouse.ErrorUnavailable},
		"shutting down":        {pg("57P01"), warehouse.ErrorUnavailable},
		"starting up":          {pg("57P03"), warehouse.ErrorUnavailable},
		"undefined table":      {pg("42P01"), warehouse.ErrorQuery},
		"rejected":             {&sqlguard.RejectError{Reason: sqlguard.ReasonFunction}, warehouse.ErrorRejected},
		"canceled":             {fmt.Errorf("x: %w", context.Canceled), warehouse.ErrorCanceled},
		"deadline":             {fmt.Errorf("x: %w", context.DeadlineExceeded), warehouse.ErrorTimeout},
		"net":                  {&net.OpError{Op: "dial", Err: io.EOF}, warehouse.ErrorUnavailable},
		"eof":                  {io.ErrUnexpectedEOF, warehouse.ErrorUnavailable},
		"other":                {fmt.Errorf("scan row 1: bad"), warehouse.ErrorQuery},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, kindOf(c.err))
			require.Equal(t, c.want, classify("s", c.err).Kind)
		})
	}
}
