package dbt

import (
	"context"
	"strings"
)

// Reached is one node found downstream of the roots.
type Reached struct {
	// ID is the unique_id: model.…, exposure.…, test.…, snapshot.….
	ID string
	// Depth is 1 for a direct child of a root.
	Depth int
	// Parent is the node it was reached from.
	Parent string
}

// Kind returns the resource type from a unique_id: "model" for
// "model.shop.orders".
func Kind(uniqueID string) string {
	k, _, _ := strings.Cut(uniqueID, ".")
	return k
}

// Downstream walks the child map breadth-first from roots and returns every
// node reached, nearest first, at most limit of them (truncated reports that
// more were left). Roots are not included; cycles and diamonds visit a node
// once. It stops early, with the context's error, when ctx ends.
func (m *Manifest) Downstream(ctx context.Context, roots []string, limit int) (reached []Reached, truncated bool, err error) {
	if m == nil || limit <= 0 {
		return nil, false, nil
	}
	seen := make(map[string]bool, len(roots))
	queue := make([]Reached, 0, len(roots))
	for _, r := range roots {
		if !seen[r] {
			seen[r] = true
			queue = append(queue, Reached{ID: r})
		}
	}
	steps := 0
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, kid := range m.ChildMap[cur.ID] {
			if steps++; steps%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return reached, true, err
				}
			}
			if seen[kid] {
				continue
			}
			if len(reached) == limit {
				return reached, true, nil
			}
			seen[kid] = true
			r := Reached{ID: kid, Depth: cur.Depth + 1, Parent: cur.ID}
			reached = append(reached, r)
			queue = append(queue, r)
		}
	}
	return reached, false, nil
}
