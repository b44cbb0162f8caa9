package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/triage"
)

// Airflow is what the tools read from one Airflow instance. It has no
// write method: the server cannot change Airflow.
type Airflow interface {
	triage.Airflow
	GetTaskInstance(ctx context.Context, dagID, runID, taskID string) (*airflow.TaskInstance, error)
	ListFailedDagRuns(ctx context.Context, since time.Time) ([]airflow.DagRun, error)
	ListDagRuns(ctx context.Context, dagID string, q airflow.RunQuery) ([]airflow.DagRun, error)
}

var _ Airflow = (*airflow.Client)(nil)

// Instances finds the Airflow client of a configured instance by name.
type Instances interface {
	Lookup(name string) (Airflow, bool)
	// Names lists the configured instances, the default first.
	Names() []string
}

// ClientSet is Instances over a fixed list of clients, in order; the
// first is the default.
type ClientSet struct {
	names   []string
	clients map[string]Airflow
}

var _ Instances = (*ClientSet)(nil)

// NewClientSet holds the clients of the configured instances.
func NewClientSet(clients ...*airflow.Client) *ClientSet {
	cs := &ClientSet{clients: map[string]Airflow{}}
	for _, c := range clients {
		cs.Add(c.Name(), c)
	}
	return cs
}

// Add adds (or replaces) an instance's client.
func (cs *ClientSet) Add(name string, c Airflow) {
	if cs.clients == nil {
		cs.clients = map[string]Airflow{}
	}
	if _, ok := cs.clients[name]; !ok {
		cs.names = append(cs.names, name)
	}
	cs.clients[name] = c
}

// Lookup implements Instances.
func (cs *ClientSet) Lookup(name string) (Airflow, bool) {
	c, ok := cs.clients[name]
	return c, ok
}

// Names implements Instances.
func (cs *ClientSet) Names() []string { return cs.names }

// errReadOnly is what a write through readOnlyAirflow returns.
var errReadOnly = errors.New("mcpserver: medic's MCP server never writes to Airflow")

// readOnlyAirflow lends an Airflow reader to remediate's executor for its
// read-only checks (verification); its write methods refuse.
type readOnlyAirflow struct{ Airflow }

var _ remediate.Airflow = readOnlyAirflow{}

func (readOnlyAirflow) ClearTaskInstances(context.Context, string, airflow.ClearRequest) ([]airflow.TaskInstanceRef, error) {
	return nil, errReadOnly
}

func (readOnlyAirflow) TriggerDagRun(context.Context, string, airflow.TriggerRequest) (*airflow.DagRun, error) {
	return nil, errReadOnly
}

func (readOnlyAirflow) SetDagPaused(context.Context, string, bool) (*airflow.Dag, error) {
	return nil, errReadOnly
}

func (readOnlyAirflow) SetVariable(context.Context, string, string, string) error { return errReadOnly }

// instance resolves the instance a call names, the default when it names
// none; an unknown name is refused with the configured ones, so a client
// can never point medic at a host of its choosing.
func (s *Server) instance(name string) (string, Airflow, error) {
	names := s.deps.Instances.Names()
	if name == "" {
		if len(names) == 0 {
			return "", nil, userErrorf("no Airflow instance is configured in medic (airflow.instances)")
		}
		name = names[0]
	}
	af, ok := s.deps.Instances.Lookup(name)
	if !ok {
		return "", nil, userErrorf("instance %q is not configured: known instances are %s (pass a name, never a URL)",
			clip(name, 100), strings.Join(names, ", "))
	}
	return name, af, nil
}

// airflowError explains a failed Airflow read: what was not found, or
// that the instance did not answer. The client's error (which may name
// hosts) goes to the log only.
func (s *Server) airflowError(ctx context.Context, instance, what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, airflow.ErrNotFound):
		return userErrorf("Airflow instance %q has no %s: check the ids (list_failed_runs and get_failed_tasks list real ones)", instance, what)
	case errors.Is(err, airflow.ErrUnauthorized), errors.Is(err, airflow.ErrForbidden), errors.Is(err, airflow.ErrConfig):
		s.log.WarnContext(ctx, "airflow refused medic", "instance", instance, "what", what, "error", err)
		return userErrorf("Airflow instance %q refused medic's credentials reading %s: medic's operator must fix airflow.instances", instance, what)
	case errors.Is(err, airflow.ErrBadRequest):
		return userErrorf("Airflow instance %q rejected the request for %s: check the ids and arguments", instance, what)
	case airflow.IsRetryable(err), errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(ctx, "airflow did not answer", "instance", instance, "what", what, "error", err)
		return userErrorf("Airflow instance %q did not answer reading %s: try again in a minute", instance, what)
	}
	return fmt.Errorf("read %s from %s: %w", what, instance, err)
}
