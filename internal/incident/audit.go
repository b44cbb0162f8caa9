package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Limits of an audit entry appended on its own.
const (
	MaxAuditActorLen    = 200
	MaxAuditActionLen   = 100
	MaxAuditDetailBytes = 16 << 10
)

// Validate checks an entry a caller appends: actor and action are required,
// the detail is JSON of at most MaxAuditDetailBytes. Errors match
// ErrInvalid.
func (e *AuditEntry) Validate() error {
	var errs []error
	switch {
	case strings.TrimSpace(e.Actor) == "":
		errs = append(errs, fmt.Errorf("audit actor is required: %w", ErrInvalid))
	case len(e.Actor) > MaxAuditActorLen:
		errs = append(errs, fmt.Errorf("audit actor is longer than %d bytes: %w", MaxAuditActorLen, ErrInvalid))
	}
	switch {
	case strings.TrimSpace(e.Action) == "":
		errs = append(errs, fmt.Errorf("audit action is required: %w", ErrInvalid))
	case len(e.Action) > MaxAuditActionLen:
		errs = append(errs, fmt.Errorf("audit action is longer than %d bytes: %w", MaxAuditActionLen, ErrInvalid))
	}
	switch {
	case len(e.Detail) > MaxAuditDetailBytes:
		errs = append(errs, fmt.Errorf("audit detail is %d bytes, more than %d: summarise it: %w", len(e.Detail), MaxAuditDetailBytes, ErrInvalid))
	case len(e.Detail) > 0 && !json.Valid(e.Detail):
		errs = append(errs, fmt.Errorf("audit detail is not JSON: %w", ErrInvalid))
	}
	return errors.Join(errs...)
}
