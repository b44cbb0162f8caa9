package sqlguard

import (
	"cmp"
	"fmt"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Relation is a table or view named in a statement, as written: Schema is
// empty when the statement left it to the search path.
type Relation struct {
	Schema string
	Name   string
}

// Relations lists the relations that sql reads or writes, in order of first
// appearance and without repeats, from the same parser the guard uses. sql
// may hold any statements (INSERT ... SELECT, CREATE TABLE AS, several
// statements); names that refer to a CTE of the statement are left out. It
// only parses: nothing is checked or run. The error is a *RejectError with
// ReasonParse, ReasonEncoding or ReasonTooLong.
func Relations(sql string) ([]Relation, error) {
	if err := checkText(sql, DefaultMaxLen); err != nil {
		return nil, err
	}
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, &RejectError{Reason: ReasonParse, Detail: parseDetail(err)}
	}
	type located struct {
		rel Relation
		at  int32
	}
	var (
		ctes  = map[string]bool{}
		found []located
	)
	collect := func(m protoreflect.Message) {
		switch n := m.Interface().(type) {
		case *pg_query.CommonTableExpr:
			ctes[n.GetCtename()] = true
		case *pg_query.RangeVar:
			if n.GetRelname() != "" {
				found = append(found, located{Relation{Schema: n.GetSchemaname(), Name: n.GetRelname()}, n.GetLocation()})
			}
		}
	}
	if err := visitAll(tree.ProtoReflect(), 0, collect); err != nil {
		return nil, err
	}
	// The walk follows field order (a SELECT's target list before its FROM);
	// the parser's byte offsets give the order a reader sees.
	slices.SortStableFunc(found, func(a, b located) int { return cmp.Compare(a.at, b.at) })
	var (
		out  []Relation
		seen = map[Relation]bool{}
	)
	for _, f := range found {
		if seen[f.rel] || f.rel.Schema == "" && ctes[f.rel.Name] {
			continue
		}
		seen[f.rel] = true
		out = append(out, f.rel)
	}
	return out, nil
}

func visitAll(m protoreflect.Message, depth int, fn func(protoreflect.Message)) error {
	if depth > maxDepth {
		return reject(ReasonTooDeep, "more than %d levels", maxDepth)
	}
	fn(m)
	return eachChild(m, func(child protoreflect.Message) error {
		return visitAll(child, depth+1, fn)
	})
}

// String returns schema.name, or name alone when the schema is empty.
func (r Relation) String() string {
	if r.Schema == "" {
		return r.Name
	}
	return fmt.Sprintf("%s.%s", r.Schema, r.Name)
}
