package httpapi

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/medic-sh/medic/internal/store"
)

// checkQuery refuses a parameter not in known, and one given twice unless
// it is repeatable, naming the first at fault (in sorted order).
func checkQuery(q url.Values, known []string, repeatable ...string) error {
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(known, name):
			return badParam(name, fmt.Sprintf("unknown query parameter %q: known parameters are %s",
				clip(name, 64), strings.Join(known, ", ")))
		case len(q[name]) > 1 && !slices.Contains(repeatable, name):
			return badParam(name, name+" may be given only once")
		}
	}
	return nil
}

// limitParam reads the limit parameter, clamped by store.ClampLimit.
func limitParam(q url.Values) (int, error) {
	n := 0
	if v := q.Get("limit"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			return 0, badParam("limit", fmt.Sprintf("limit must be a whole number from 1 to %d, got %q", store.MaxListLimit, clip(v, 32)))
		}
	}
	return store.ClampLimit(n), nil
}
