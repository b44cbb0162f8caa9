package mcpserver

import (
	"strings"
	"time"
)

// maxIDLen is the longest id a tool takes, as for incident keys.
const maxIDLen = 250

// checkID validates an id argument (dag_id, run_id, task_id, incident_id)
// like incident.Key.Validate does, and refuses what looks like a path or a
// URL: ids name Airflow objects, never places to fetch from.
func checkID(field, v string, required bool) error {
	switch {
	case strings.TrimSpace(v) == "":
		if required {
			return userErrorf("%s is required", field)
		}
		return nil
	case len(v) > maxIDLen:
		return userErrorf("%s is longer than %d characters", field, maxIDLen)
	case strings.ContainsAny(v, "|\n\r\x00\t"):
		return userErrorf("%s contains a forbidden character (|, a tab, a line break or NUL)", field)
	case strings.Contains(v, "://"), strings.HasPrefix(v, "//"), strings.HasPrefix(v, "/"), strings.Contains(v, "\\"),
		strings.Contains(v, ".."), strings.ContainsAny(v, "?#"):
		return userErrorf("%s %q looks like a path or URL: pass the id itself (medic only reads its configured Airflow instances)", field, clip(v, 100))
	}
	return nil
}

// checkIDs validates several ids, naming the first at fault.
func checkIDs(fields ...[3]string) error {
	for _, f := range fields {
		if err := checkID(f[0], f[1], f[2] == "required"); err != nil {
			return err
		}
	}
	return nil
}

func req(field, v string) [3]string { return [3]string{field, v, "required"} }
func opt(field, v string) [3]string { return [3]string{field, v, ""} }

// limit resolves a list limit: def when zero, refused when negative,
// clamped to max (the answer says so).
func limit(field string, n, def, maxN int) (int, bool, error) {
	switch {
	case n < 0:
		return 0, false, userErrorf("%s must not be negative, got %d", field, n)
	case n == 0:
		return def, false, nil
	case n > maxN:
		return maxN, true, nil
	}
	return n, false, nil
}

// window resolves a time window in hours: def when zero, refused when
// negative, clamped to maxH.
func window(field string, hours float64, def, maxH time.Duration) (time.Duration, bool, error) {
	switch {
	case hours < 0:
		return 0, false, userErrorf("%s must not be negative, got %g", field, hours)
	case hours == 0:
		return def, false, nil
	}
	d := time.Duration(hours * float64(time.Hour))
	if d > maxH || d <= 0 {
		return maxH, true, nil
	}
	return d, false, nil
}
