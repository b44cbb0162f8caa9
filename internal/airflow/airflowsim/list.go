package airflowsim

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// timeRange is a set of gt/gte/lt/lte bounds on one timestamp column.
type timeRange struct{ gt, gte, lt, lte *time.Time }

func (tr timeRange) set() bool { return tr.gt != nil || tr.gte != nil || tr.lt != nil || tr.lte != nil }

// match applies SQL semantics: with any bound set, a null value never
// matches.
func (tr timeRange) match(t *time.Time) bool {
	if !tr.set() {
		return true
	}
	if t == nil {
		return false
	}
	return (tr.gt == nil || t.After(*tr.gt)) && (tr.gte == nil || !t.Before(*tr.gte)) &&
		(tr.lt == nil || t.Before(*tr.lt)) && (tr.lte == nil || !t.After(*tr.lte))
}

type numRange struct{ gt, gte, lt, lte *float64 }

func (nr numRange) match(v *float64) bool {
	if nr.gt == nil && nr.gte == nil && nr.lt == nil && nr.lte == nil {
		return true
	}
	if v == nil {
		return false
	}
	return (nr.gt == nil || *v > *nr.gt) && (nr.gte == nil || *v >= *nr.gte) &&
		(nr.lt == nil || *v < *nr.lt) && (nr.lte == nil || *v <= *nr.lte)
}

// queryTimeRange reads <name>_gte/_lte (and, for 3.x, _gt/_lt).
func (s *Server) queryTimeRange(q *query, name string) timeRange {
	tr := timeRange{gte: q.datetime(name + "_gte"), lte: q.datetime(name + "_lte")}
	if s.version == 3 {
		tr.gt, tr.lt = q.datetime(name+"_gt"), q.datetime(name+"_lt")
	}
	return tr
}

func (s *Server) queryNumRange(q *query, name string) numRange {
	nr := numRange{gte: q.number(name + "_gte"), lte: q.number(name + "_lte")}
	if s.version == 3 {
		nr.gt, nr.lt = q.number(name+"_gt"), q.number(name+"_lt")
	}
	return nr
}

func (s *Server) bodyTimeRange(b *body, name string) timeRange {
	tr := timeRange{gte: b.datetime(name + "_gte"), lte: b.datetime(name + "_lte")}
	if s.version == 3 {
		tr.gt, tr.lt = b.datetime(name+"_gt"), b.datetime(name+"_lt")
	}
	return tr
}

func (s *Server) bodyNumRange(b *body, name string) numRange {
	nr := numRange{gte: b.number(name + "_gte"), lte: b.number(name + "_lte")}
	if s.version == 3 {
		nr.gt, nr.lt = b.number(name+"_gt"), b.number(name+"_lt")
	}
	return nr
}

// likePattern compiles 3.x's *_pattern filters: SQL LIKE with % and _, and
// "a | b" for OR.
func likePattern(p *string) *regexp.Regexp {
	if p == nil || *p == "" {
		return nil
	}
	var alts []string
	for _, alt := range strings.Split(*p, "|") {
		alt = strings.TrimSpace(alt)
		var b strings.Builder
		for _, r := range alt {
			switch r {
			case '%':
				b.WriteString(".*")
			case '_':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		alts = append(alts, b.String())
	}
	return regexp.MustCompile("(?i)^(?:" + strings.Join(alts, "|") + ")$")
}

func queryPattern(q *query, name string) *regexp.Regexp {
	if !q.has(name) {
		return nil
	}
	v := q.vals.Get(name)
	return likePattern(&v)
}

// pageParams reads limit/offset with the version's defaults and cap. 2.x
// (check_limit): 0 means the fallback (100), negative is a 400, above the
// maximum is clamped. 3.x: default 50, negative is a 422, clamped too.
func (s *Server) pageParams(w http.ResponseWriter, q *query) (limit, offset int, ok bool) {
	if s.version == 3 {
		limit = q.integer("limit", 50, 0)
		offset = q.integer("offset", 0, 0)
		return min(limit, s.opts.MaxPageLimit), offset, true
	}
	limit = q.integer("limit", 100, -1<<31)
	offset = q.integer("offset", 0, 0)
	if len(q.errs) > 0 {
		return 0, 0, true // reported by the caller with the other errors
	}
	switch {
	case limit < 0:
		s.badRequest(w, "Page limit must be a positive integer")
		return 0, 0, false
	case limit == 0:
		limit = 100
	}
	return min(limit, s.opts.MaxPageLimit), offset, true
}

func paginate[T any](items []T, limit, offset int) []T {
	if offset >= len(items) {
		return []T{}
	}
	items = items[offset:]
	if limit < len(items) {
		items = items[:limit]
	}
	return items
}

// sortKey is one order_by term.
type sortKey struct {
	field string
	desc  bool
}

// parseOrderBy splits order_by values ("-start_date") and checks them
// against the allowed fields (after aliases), returning the offending field
// on failure.
func parseOrderBy(values []string, allowed []string, aliases map[string]string) ([]sortKey, string, bool) {
	var keys []sortKey
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			k := sortKey{field: part}
			if strings.HasPrefix(part, "-") {
				k = sortKey{field: part[1:], desc: true}
			}
			if a, ok := aliases[k.field]; ok {
				k.field = a
			}
			if !slices.Contains(allowed, k.field) {
				return nil, strings.TrimPrefix(part, "-"), false
			}
			keys = append(keys, k)
		}
	}
	return keys, "", true
}

// sortValue is a comparable column value; nil sorts last ascending and first
// descending, like PostgreSQL.
type sortValue struct {
	null bool
	t    time.Time
	s    string
	f    float64
	kind byte // 't', 's', 'f'
}

func cmpSortValue(a, b sortValue) int {
	switch {
	case a.null && b.null:
		return 0
	case a.null:
		return 1
	case b.null:
		return -1
	}
	switch a.kind {
	case 't':
		return a.t.Compare(b.t)
	case 'f':
		return cmp.Compare(a.f, b.f)
	}
	return strings.Compare(a.s, b.s)
}

func tv(t *time.Time) sortValue {
	if t == nil {
		return sortValue{null: true}
	}
	return sortValue{t: *t, kind: 't'}
}

func sv(s string) sortValue { return sortValue{s: s, kind: 's'} }

func fv(f *float64) sortValue {
	if f == nil {
		return sortValue{null: true}
	}
	return sortValue{f: *f, kind: 'f'}
}

func sortBy[T any](items []T, keys []sortKey, value func(T, string) sortValue) {
	slices.SortStableFunc(items, func(a, b T) int {
		for _, k := range keys {
			c := cmpSortValue(value(a, k.field), value(b, k.field))
			if c == 0 {
				continue
			}
			if k.desc {
				// Reversing also puts nulls first, as PostgreSQL's DESC does.
				return -c
			}
			return c
		}
		return 0
	})
}

// matchStates matches a state against a filter list, where "none" (and
// 3.x's "no_status") select the null state.
func matchStates(state string, filter []string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if f == state || (state == "" && (f == "none" || f == "no_status" || f == "null")) {
			return true
		}
	}
	return false
}

func matchList(v string, filter []string) bool {
	return len(filter) == 0 || slices.Contains(filter, v)
}
