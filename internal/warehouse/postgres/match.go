package postgres

import (
	"strings"

	"github.com/medic-sh/medic/internal/warehouse"
)

// mentions returns the first target whose table name appears in query as a
// whole identifier (case-insensitively), or "".
func mentions(query string, targets []warehouse.TableName) string {
	if query == "" {
		return ""
	}
	q := strings.ToLower(query)
	for _, t := range targets {
		if containsIdent(q, strings.ToLower(t.Name)) {
			return t.String()
		}
	}
	return ""
}

func containsIdent(hay, needle string) bool {
	if needle == "" {
		return false
	}
	for from := 0; ; {
		i := strings.Index(hay[from:], needle)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(needle)
		if (start == 0 || !identByte(hay[start-1])) && (end == len(hay) || !identByte(hay[end])) {
			return true
		}
		from = start + 1
	}
}

func identByte(c byte) bool {
	return c == '_' || c == '$' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c >= 0x80
}

// isTarget reports whether rel is one of the targets; a target without a
// schema matches the name in any schema.
func isTarget(rel warehouse.TableName, targets []warehouse.TableName) bool {
	for _, t := range targets {
		if t.Name == rel.Name && (t.Schema == "" || t.Schema == rel.Schema) {
			return true
		}
	}
	return false
}
