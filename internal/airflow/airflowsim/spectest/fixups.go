package spectest

import "github.com/getkin/kin-openapi/openapi3"

// The patches listed in Quirks. Each one makes the loaded document accept what
// real Airflow sends, or makes a 3.1 construct readable in 3.0.3 mode.

func fixV1(doc *openapi3.T) {
	doc.Servers = openapi3.Servers{{URL: "/api/v1"}}
	if s := doc.Components.Schemas["Error"]; s != nil && s.Value != nil {
		if d := s.Value.Properties["detail"]; d != nil && d.Value != nil {
			d.Value.Nullable = true
		}
	}
}

func fixV2(doc *openapi3.T) {
	doc.OpenAPI = "3.0.3"
	doc.Servers = nil
	seen := map[*openapi3.Schema]bool{}
	walk := func(ref *openapi3.SchemaRef) { downgrade31(ref, seen) }
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, p := range doc.Components.Parameters {
		if p.Value != nil {
			walk(p.Value.Schema)
		}
	}
	for _, item := range doc.Paths.Map() {
		params := item.Parameters
		for _, op := range item.Operations() {
			params = append(params, op.Parameters...)
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			if op.Responses != nil {
				for _, resp := range op.Responses.Map() {
					if resp.Value == nil {
						continue
					}
					for _, mt := range resp.Value.Content {
						walk(mt.Schema)
					}
				}
			}
		}
		for _, p := range params {
			if p.Value == nil {
				continue
			}
			walk(p.Value.Schema)
			// trigger_dag_run's dag_id path parameter has a schema with
			// only a title; kin-openapi then cannot decode any value.
			if sc := p.Value.Schema; sc != nil && sc.Value != nil && sc.Value.Type == nil && p.Value.In == openapi3.ParameterInPath {
				sc.Value.Type = &openapi3.Types{openapi3.TypeString}
			}
		}
	}
}

// downgrade31 rewrites the JSON Schema 2020-12 forms the v2 file uses into
// their OpenAPI 3.0 equivalents: anyOf [X, {type: 'null'}] becomes nullable X,
// and a numeric exclusiveMinimum/Maximum becomes minimum/maximum plus the
// boolean modifier.
func downgrade31(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	if len(s.AnyOf) > 0 {
		kept := s.AnyOf[:0:0]
		for _, b := range s.AnyOf {
			if b.Value != nil && b.Value.Type != nil && b.Value.Type.Is("null") {
				s.Nullable = true
				continue
			}
			kept = append(kept, b)
		}
		s.AnyOf = kept
	}
	if v := s.ExclusiveMin.Value; v != nil {
		min := *v
		s.Min = &min
		s.ExclusiveMin = openapi3.ExclusiveBound{}
		s.WithExclusiveMin(true)
	}
	if v := s.ExclusiveMax.Value; v != nil {
		max := *v
		s.Max = &max
		s.ExclusiveMax = openapi3.ExclusiveBound{}
		s.WithExclusiveMax(true)
	}
	for _, b := range s.AnyOf {
		downgrade31(b, seen)
	}
	for _, b := range s.OneOf {
		downgrade31(b, seen)
	}
	for _, b := range s.AllOf {
		downgrade31(b, seen)
	}
	for _, b := range s.PrefixItems {
		downgrade31(b, seen)
	}
	for _, p := range s.Properties {
		downgrade31(p, seen)
	}
	downgrade31(s.Items, seen)
	if s.AdditionalProperties.Schema != nil {
		downgrade31(s.AdditionalProperties.Schema, seen)
	}
}
