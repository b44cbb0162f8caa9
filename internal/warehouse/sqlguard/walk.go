package sqlguard

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checker walks one parse tree. The walk goes through protobuf reflection,
// so every field of every node is visited, including ones added by a future
// pg_query_go version; a node type this file does not know is rejected.
type checker struct {
	allowed []string // nil: defaultFunctions
}

// walk visits m and then its message fields in declaration order, so the
// first rule broken is reported the same way every time.
func (c *checker) walk(m protoreflect.Message, depth int) error {
	if depth > maxDepth {
		return reject(ReasonTooDeep, "more than %d levels", maxDepth)
	}
	if err := c.visit(m.Interface()); err != nil {
		return err
	}
	return eachChild(m, func(child protoreflect.Message) error {
		return c.walk(child, depth+1)
	})
}

// eachChild calls fn for every set message-valued field of m, and for each
// element of message-valued lists.
func eachChild(m protoreflect.Message, fn func(protoreflect.Message) error) error {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			continue
		}
		if fd.IsMap() || !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		if fd.IsList() {
			l := v.List()
			for j := range l.Len() {
				if err := fn(l.Get(j).Message()); err != nil {
					return err
				}
			}
			continue
		}
		if err := fn(v.Message()); err != nil {
			return err
		}
	}
	return nil
}

// visit applies the rules that concern one node.
func (c *checker) visit(msg proto.Message) error {
	switch n := msg.(type) {
	case *pg_query.SelectStmt:
		if n.GetIntoClause() != nil {
			return reject(ReasonSelectInto, "SELECT INTO creates a table")
		}
		if lc := n.GetLockingClause(); len(lc) > 0 {
			return reject(ReasonLockingClause, "%s", lockStrength(lc[0].GetLockingClause()))
		}
	case *pg_query.CommonTableExpr:
		q := n.GetCtequery()
		if q.GetSelectStmt() == nil {
			if isDML(q) {
				return reject(ReasonDataModifyingCTE, "WITH %s AS (%s)", clip(n.GetCtename()), nodeName(q))
			}
			return reject(ReasonConstruct, "WITH %s AS (%s)", clip(n.GetCtename()), nodeName(q))
		}
	case *pg_query.FuncCall:
		return c.checkFunc(n.GetFuncname())
	case *pg_query.A_Expr:
		if _, _, ok := catalogName(n.GetName()); !ok {
			return reject(ReasonQualifiedName, "operator %s", dotted(n.GetName()))
		}
	case *pg_query.TypeName:
		if _, _, ok := catalogName(n.GetNames()); !ok {
			return reject(ReasonQualifiedName, "type %s", dotted(n.GetNames()))
		}
	case *pg_query.InsertStmt, *pg_query.UpdateStmt, *pg_query.DeleteStmt, *pg_query.MergeStmt:
		return reject(ReasonNotSelect, "nested %s", msg.ProtoReflect().Descriptor().Name())
	case *pg_query.LockingClause:
		return reject(ReasonLockingClause, "%s", lockStrength(n))
	case *pg_query.IntoClause:
		return reject(ReasonSelectInto, "INTO clause")
	default:
		if !allowedNode(msg) {
			return reject(ReasonConstruct, "%s", msg.ProtoReflect().Descriptor().Name())
		}
	}
	return nil
}

// allowedNode lists the node types, beyond those visit handles, that a
// plain SELECT over catalog views needs. XML and JSON constructors,
// TABLESAMPLE, XMLTABLE/JSON_TABLE and anything from another statement type
// are left out.
func allowedNode(msg proto.Message) bool {
	switch msg.(type) {
	case *pg_query.Node, *pg_query.List,
		*pg_query.String, *pg_query.Integer, *pg_query.Float, *pg_query.Boolean, *pg_query.BitString,
		*pg_query.A_Const, *pg_query.A_Star, *pg_query.A_Indices, *pg_query.A_Indirection, *pg_query.A_ArrayExpr,
		*pg_query.ColumnRef, *pg_query.ParamRef, *pg_query.TypeCast, *pg_query.CollateClause,
		*pg_query.ResTarget, *pg_query.SortBy, *pg_query.WindowDef, *pg_query.NamedArgExpr,
		*pg_query.RangeVar, *pg_query.Alias, *pg_query.JoinExpr, *pg_query.RangeSubselect, *pg_query.RangeFunction,
		*pg_query.SubLink, *pg_query.BoolExpr, *pg_query.NullTest, *pg_query.BooleanTest,
		*pg_query.CaseExpr, *pg_query.CaseWhen, *pg_query.CoalesceExpr, *pg_query.MinMaxExpr,
		*pg_query.SQLValueFunction, *pg_query.RowExpr, *pg_query.GroupingSet, *pg_query.GroupingFunc,
		*pg_query.WithClause, *pg_query.CTESearchClause, *pg_query.CTECycleClause:
		return true
	}
	return false
}

func (c *checker) checkFunc(names []*pg_query.Node) error {
	schema, name, ok := catalogName(names)
	if !ok {
		return reject(ReasonQualifiedName, "function %s", dotted(names))
	}
	allowed := c.allowed
	if allowed == nil {
		allowed = defaultFunctions
	}
	if !slices.Contains(allowed, name) {
		if schema != "" {
			name = schema + "." + name
		}
		return reject(ReasonFunction, "%s is not in the function allowlist", clip(name))
	}
	return nil
}

// catalogName splits a possibly qualified name. Only an unqualified name or
// one in pg_catalog is ok: the connector pins search_path to pg_catalog, so
// an unqualified name cannot resolve to a look-alike in another schema.
func catalogName(names []*pg_query.Node) (schema, name string, ok bool) {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		s := n.GetString_()
		if s == nil {
			return "", "", false
		}
		parts = append(parts, s.GetSval())
	}
	switch {
	case len(parts) == 1:
		return "", parts[0], true
	case len(parts) == 2 && parts[0] == "pg_catalog":
		return parts[0], parts[1], true
	}
	return "", "", false
}

func dotted(names []*pg_query.Node) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += "."
		}
		if str := n.GetString_(); str != nil {
			s += str.GetSval()
		} else {
			s += "?"
		}
	}
	return clip(s)
}

func isDML(n *pg_query.Node) bool {
	return n.GetInsertStmt() != nil || n.GetUpdateStmt() != nil || n.GetDeleteStmt() != nil || n.GetMergeStmt() != nil
}

// nodeName is the parse-tree type of a statement node, e.g. "DeleteStmt".
func nodeName(n *pg_query.Node) string {
	if n == nil || n.GetNode() == nil {
		return "empty statement"
	}
	m := n.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("node")
	if od == nil {
		return "unknown node"
	}
	fd := m.WhichOneof(od)
	if fd == nil || fd.Message() == nil {
		return "unknown node"
	}
	return string(fd.Message().Name())
}

func lockStrength(lc *pg_query.LockingClause) string {
	switch lc.GetStrength() {
	case pg_query.LockClauseStrength_LCS_FORKEYSHARE:
		return "FOR KEY SHARE"
	case pg_query.LockClauseStrength_LCS_FORSHARE:
		return "FOR SHARE"
	case pg_query.LockClauseStrength_LCS_FORNOKEYUPDATE:
		return "FOR NO KEY UPDATE"
	case pg_query.LockClauseStrength_LCS_FORUPDATE:
		return "FOR UPDATE"
	}
	return "row locking clause"
}

// clip keeps identifiers in error details short.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
