package airflow

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// jsonTime decodes a nullable Airflow timestamp. Airflow writes RFC 3339 with
// an offset; some 3.0 components drop the offset (taken as UTC) and some
// tools use a space instead of "T". An unparsable value decodes as absent
// rather than failing the whole response.
type jsonTime struct{ t *time.Time }

func (j *jsonTime) UnmarshalJSON(b []byte) error {
	j.t = nil
	var s *string
	_ = json.Unmarshal(b, &s) // null or a non-string: absent, on purpose
	if s != nil {
		if t, ok := parseTime(*s); ok {
			j.t = &t
		}
	}
	return nil
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// jsonInt decodes a number that the specs type as number (retries in 3.x) or
// integer, tolerating null and fractions.
type jsonInt int

func (j *jsonInt) UnmarshalJSON(b []byte) error {
	var f *float64
	if json.Unmarshal(b, &f) == nil && f != nil {
		*j = jsonInt(*f)
	}
	return nil
}

// nullString decodes a string that may be null or absent.
type nullString string

func (n *nullString) UnmarshalJSON(b []byte) error {
	var s *string
	if json.Unmarshal(b, &s) == nil && s != nil {
		*n = nullString(*s)
	}
	return nil
}

// pageSize is the page limit requested from list endpoints: the default
// [api] maximum_page_limit of both versions, so it is never silently capped.
const pageSize = 100

// maxListItems bounds a fully paged listing.
const maxListItems = 50_000

// collect pages through a list endpoint until it is exhausted, limit items
// are gathered (0: no limit) or maxListItems is reached. fetch returns one
// page and the server's total_entries (0 when unknown). Servers may cap the
// page size below what was asked, so the offset advances by what came back.
func collect[T any](ctx context.Context, c *Client, op string, limit int,
	fetch func(offset, n int) (items []T, total int, err error),
) ([]T, error) {
	var out []T
	for offset := 0; ; {
		n := pageSize
		if limit > 0 {
			n = min(n, limit-len(out))
		}
		items, total, err := fetch(offset, n)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		offset += len(items)
		switch {
		case len(items) == 0,
			limit > 0 && len(out) >= limit,
			total > 0 && offset >= total,
			total <= 0 && len(items) < n:
			return out, nil
		case len(out) >= maxListItems:
			c.log.WarnContext(ctx, "airflow listing truncated", "op", op, "items", len(out), "total", total)
			return out, nil
		}
	}
}
