package airflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// maxVariableKey is the length of Airflow's variable.key column (ID_LEN),
// which 3.x's VariableBody also states as maxLength.
const maxVariableKey = 250

// variableBody is the 2.x Variable and the 3.x VariableBody as medic sends
// them. 3.x forbids additional properties, so nothing else goes in; value is
// always a string (3.x accepts any JSON value but stores non-strings as
// their JSON text, which medic never relies on).
type variableBody struct {
	Key         string  `json:"key"`
	Value       string  `json:"value"`
	Description *string `json:"description"`
}

// wireVariable covers Variable (2.x) and VariableResponse (3.x).
type wireVariable struct {
	Key   string     `json:"key"`
	Value nullString `json:"value"`
}

// SetVariable creates or overwrites an Airflow Variable: PATCH
// /variables/{key}, and when Airflow answers 404 (no such variable), POST
// /variables. An empty description is sent as null. Writing the same value
// twice leaves the same state, so unlike other writes it is retried after an
// ambiguous failure; a create that loses a race with another writer (3.x
// answers 409) falls back to one more PATCH.
func (c *Client) SetVariable(ctx context.Context, key, value, description string) error {
	op := "set variable " + key
	if err := c.checkVariableKey(op, key); err != nil {
		return err
	}
	major, err := c.major(ctx, op)
	if err != nil {
		return err
	}
	body := variableBody{Key: key, Value: value}
	if description != "" {
		body.Description = &description
	}
	patch := func() error {
		return c.doJSON(ctx, &request{
			op: op, method: http.MethodPatch, major: major, idempotent: true,
			rawPath: apiPath(major, "variables", key), body: body,
		}, nil)
	}
	err = patch()
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	err = c.doJSON(ctx, &request{
		op: op + " (create)", method: http.MethodPost, major: major, idempotent: true,
		rawPath: apiPath(major, "variables"), body: body,
	}, nil)
	if errors.Is(err, ErrConflict) {
		// Created by someone else since the PATCH: overwrite it.
		return patch()
	}
	return err
}

// GetVariable returns the value of an Airflow Variable (GET
// /variables/{key}). A missing variable is an *APIError matching
// ErrNotFound.
func (c *Client) GetVariable(ctx context.Context, key string) (string, error) {
	op := "get variable " + key
	if err := c.checkVariableKey(op, key); err != nil {
		return "", err
	}
	major, err := c.major(ctx, op)
	if err != nil {
		return "", err
	}
	var w wireVariable
	if err := c.doJSON(ctx, &request{
		op: op, method: http.MethodGet, major: major, idempotent: true,
		rawPath: apiPath(major, "variables", key),
	}, &w); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			cp := *ae
			cp.hint = "no variable with this key exists on this instance (or the base url is wrong)"
			return "", &cp
		}
		return "", err
	}
	return string(w.Value), nil
}

// checkVariableKey rejects keys Airflow would refuse, before any request.
func (c *Client) checkVariableKey(op, key string) error {
	switch {
	case key == "":
		return fmt.Errorf("airflow %s: %s: the variable key is empty", c.name, op)
	case len(key) > maxVariableKey:
		return fmt.Errorf("airflow %s: %s: the variable key is %d bytes, longer than Airflow's limit of %d; use a shorter key",
			c.name, op, len(key), maxVariableKey)
	}
	return nil
}
