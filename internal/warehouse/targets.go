package warehouse

import (
	"regexp"
	"strings"

	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

// MaxTargets bounds the tables Targets returns.
const MaxTargets = 32

var (
	// dbt's Jinja: expressions, statements and comments.
	jinjaExpr   = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	jinjaBlock  = regexp.MustCompile(`(?s)\{%.*?%\}|\{#.*?#\}`)
	jinjaConfig = regexp.MustCompile(`^\{\{-?\s*config\s*\(`)
	// ref('model'), ref('package', 'model'), source('source', 'table').
	dbtRef = regexp.MustCompile(`\b(ref|source)\s*\(\s*['"]([^'"]{1,200})['"]\s*(?:,\s*['"]([^'"]{1,200})['"]\s*)?[,)]`)

	// Error-text patterns, generic across engines: a quoted name after
	// relation/table/view/object (PostgreSQL `relation "s.t" does not
	// exist`, Snowflake `Object 'DB.S.T' does not exist`, backticks), the
	// unquoted name PostgreSQL prints in "permission denied for table t",
	// and an unquoted but schema-qualified name after table/relation
	// (BigQuery `Table project:dataset.table`).
	errQuoted = regexp.MustCompile("(?i)\\b(?:relation|table|view|object)\\s+(?:\"([^\"\\n]{1,200})\"|'([^'\\n]{1,200})'|`([^`\\n]{1,200})`)")
	errDenied = regexp.MustCompile(`(?i)\bpermission denied for (?:table|relation|view|materialized view)\s+([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)`)
	errDotted = regexp.MustCompile(`(?i)\b(?:table|relation)\s+(?:[\w-]+:)?([A-Za-z_][\w$]*\.[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)\b`)
)

// jinjaPlaceholder stands in for a Jinja expression so the rest of a dbt
// model still parses.
const jinjaPlaceholder = "medic_jinja_expr"

// Targets names the tables a failed task touched: from its SQL through the
// PostgreSQL parser (every relation read or written, CTE names excluded;
// dbt Jinja is stripped and its ref()/source() calls read), then from its
// error text with conservative patterns. The result is deduplicated, skips
// system catalogs, and holds at most MaxTargets names.
func Targets(sql, errorText string) []TableName {
	var out []TableName
	if strings.TrimSpace(sql) != "" {
		out = append(out, fromSQL(sql)...)
	}
	if errorText != "" {
		out = append(out, fromErrorText(errorText)...)
	}
	return dedupe(out)
}

func fromSQL(sql string) []TableName {
	var out []TableName
	if strings.Contains(sql, "{{") || strings.Contains(sql, "{%") {
		for _, m := range dbtRef.FindAllStringSubmatch(sql, MaxTargets) {
			name := m[2]
			if m[3] != "" {
				name = m[3] // ref('package', 'model') and source('src', 'table')
			}
			out = append(out, TableName{Name: name})
		}
		sql = jinjaBlock.ReplaceAllString(sql, " ")
		sql = jinjaExpr.ReplaceAllStringFunc(sql, func(expr string) string {
			// {{ config(...) }} stands where no SQL goes; any other
			// expression (ref, source, var, a macro) stands for a name or
			// a value.
			if jinjaConfig.MatchString(expr) {
				return " "
			}
			return jinjaPlaceholder
		})
	}
	rels, err := sqlguard.Relations(sql)
	if err != nil {
		return out
	}
	for _, r := range rels {
		if r.Name == jinjaPlaceholder {
			continue
		}
		out = append(out, TableName{Schema: r.Schema, Name: r.Name})
	}
	return out
}

func fromErrorText(text string) []TableName {
	if len(text) > 256<<10 {
		text = text[len(text)-256<<10:] // the error is at the end of a log
	}
	var out []TableName
	for _, m := range errQuoted.FindAllStringSubmatch(text, MaxTargets) {
		for _, g := range m[1:] {
			if g != "" {
				out = append(out, ParseTableName(g))
			}
		}
	}
	for _, re := range []*regexp.Regexp{errDenied, errDotted} {
		for _, m := range re.FindAllStringSubmatch(text, MaxTargets) {
			out = append(out, ParseTableName(m[1]))
		}
	}
	return out
}

func dedupe(in []TableName) []TableName {
	qualified := map[string]bool{}
	for _, t := range in {
		if t.Schema != "" {
			qualified[t.Name] = true
		}
	}
	var (
		out  []TableName
		seen = map[TableName]bool{}
	)
	for _, t := range in {
		switch {
		case t.Name == "" || seen[t] || systemSchema(t.Schema):
			continue
		case t.Schema == "" && qualified[t.Name]:
			continue // the qualified spelling says more
		case len(out) == MaxTargets:
			return out
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

func systemSchema(s string) bool {
	return s == "pg_catalog" || s == "information_schema" || strings.EqualFold(s, "INFORMATION_SCHEMA")
}
