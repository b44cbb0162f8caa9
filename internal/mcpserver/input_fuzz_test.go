package mcpserver

import (
	"strings"
	"testing"
)

// FuzzCheckID holds the id check to what it promises: an id it accepts is
// bounded and can name no other place to fetch from.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{
		"orders_etl", "scheduled__2026-05-01T02:00:00+00:00", "group.task", "https://169.254.169.254/", "../x",
		"//host/x", "a|b", "inc_0123", "manual__2026-05-01T02:00:00.123+00:00", "a\\b", "x?y=1", "", " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if err := checkID("dag_id", v, true); err != nil {
			if !strings.Contains(err.Error(), "dag_id") {
				t.Fatalf("the error does not name the argument: %v", err)
			}
			return
		}
		if len(v) > maxIDLen || strings.TrimSpace(v) == "" {
			t.Fatalf("accepted %q", v)
		}
		for _, bad := range []string{"://", "..", "\\", "?", "#", "|", "\n", "\r", "\x00", "\t"} {
			if strings.Contains(v, bad) {
				t.Fatalf("accepted %q, which holds %q", v, bad)
			}
		}
		if strings.HasPrefix(v, "/") {
			t.Fatalf("accepted the path %q", v)
		}
	})
}
