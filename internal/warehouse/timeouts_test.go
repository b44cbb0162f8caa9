package warehouse_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
)

func TestTimeoutsIn(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		text string
		want []warehouse.TimeoutKind
	}{
		"lock timeout":      {"psycopg2.errors.LockNotAvailable: canceling statement due to lock timeout", []warehouse.TimeoutKind{warehouse.TimeoutLock}},
		"statement timeout": {"ERROR: canceling statement due to statement timeout", []warehouse.TimeoutKind{warehouse.TimeoutStatement}},
		"deadlock":          {"ERROR:  deadlock detected\nDETAIL:  Process 1 waits for ShareLock", []warehouse.TimeoutKind{warehouse.TimeoutDeadlock}},
		"nowait":            {`could not obtain lock on relation "t"`, []warehouse.TimeoutKind{warehouse.TimeoutLockNotAvailable}},
		"idle in xact":      {"FATAL: terminating connection due to idle-in-transaction timeout", []warehouse.TimeoutKind{warehouse.TimeoutIdleInXact}},
		"snowflake":         {"Statement reached its statement or warehouse timeout of 3600 second(s)", []warehouse.TimeoutKind{warehouse.TimeoutStatement}},
		"several": {
			"line 1\ncanceling statement due to lock timeout\nretry: deadlock detected",
			[]warehouse.TimeoutKind{warehouse.TimeoutLock, warehouse.TimeoutDeadlock},
		},
		"none":           {"ZeroDivisionError: division by zero", nil},
		"timeout in url": {"GET /api/timeout failed", nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := warehouse.TimeoutsIn(c.text)
			kinds := make([]warehouse.TimeoutKind, 0, len(got))
			for _, g := range got {
				kinds = append(kinds, g.Kind)
				require.Equal(t, "error_text", g.Source)
				require.NotEmpty(t, g.Evidence)
				require.NotContains(t, g.Evidence, "\n")
			}
			if len(c.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, c.want, kinds)
		})
	}
}

func TestTimeoutEvidenceRedacted(t *testing.T) {
	t.Parallel()
	cases := []string{
		"canceling statement due to statement timeout; query: UPDATE u SET password='hunter2hunter2' ",
		"deadlock detected while running postgresql://app:hunter2hunter2@db/x",
	}
	for _, text := range cases {
		got := warehouse.TimeoutsIn(text)
		require.Len(t, got, 1)
		require.NotContains(t, got[0].Evidence, "hunter2")
	}
}
