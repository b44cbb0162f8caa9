// Package store is medic's storage seam: the one deliberately wide interface
// between the domain and a database. Implementations live in sub-packages
// (sqlite/ today, postgres/ next) and must all pass the storetest
// conformance suite.
//
// Every method that causes later work (triaging an incident, notifying about
// it) enqueues that work as a durable job in the same transaction as the state
// change, so a crash can neither lose the work nor do it twice. A Store must
// never call out to Airflow, Slack or any other network service.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
)

// Errors shared by all implementations.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrInvalidCursor is returned for a paging cursor the store did not issue.
	ErrInvalidCursor = errors.New("invalid cursor")
)

// Store is the storage seam. Methods are named noun-first and take params
// structs so they can grow without breaking callers.
type Store interface {
	// EventRecord stores a failure event, deduplicated on its identity, and
	// attaches it to an incident: an open incident of the same group, or a new
	// one with a pending triage session and a triage job, all in one
	// transaction.
	EventRecord(ctx context.Context, p *EventRecordParams) (*EventRecordResult, error)
	EventListByIncident(ctx context.Context, incidentID string) ([]*incident.FailureEvent, error)

	// TriageRequest opens (or finds) the incident for a DAG run that a person
	// asked medic to triage, with its session and job, without an event yet.
	TriageRequest(ctx context.Context, p *TriageRequestParams) (*TriageRequestResult, error)
	// TriageComplete finishes an incident's triage exactly once: final session
	// status, incident summary and state, audit entry, and the notify job.
	// Calling it again for a triaged incident is a no-op reporting Done=false.
	TriageComplete(ctx context.Context, p *TriageCompleteParams) (*TriageCompleteResult, error)

	IncidentGetByID(ctx context.Context, id string) (*incident.Incident, error)
	IncidentList(ctx context.Context, p *IncidentListParams) (*IncidentListResult, error)
	// IncidentTransition moves an incident through its state machine and
	// audits the move; moving to the state it is already in is a no-op.
	IncidentTransition(ctx context.Context, p *IncidentTransitionParams) (*incident.Incident, error)
	// IncidentSetSignature records the failure signature of an incident's
	// root cause; IncidentList filters on it to find the same failure seen
	// before.
	IncidentSetSignature(ctx context.Context, p *IncidentSetSignatureParams) error
	// IncidentMarkNotified records that the incident's report went out; it
	// reports false if it already had.
	IncidentMarkNotified(ctx context.Context, p *IncidentMarkNotifiedParams) (bool, error)

	SessionGetByID(ctx context.Context, id string) (*incident.Session, error)
	// SessionListChildren lists the sessions a session started, oldest
	// first.
	SessionListChildren(ctx context.Context, parentID string) ([]*incident.Session, error)
	// SessionSetStatus moves a session that is not final yet; a final
	// session keeps its status. Moving a pending session to running
	// appends a started event, and reaching a final status a finished one.
	// A child session finishes through SessionFinish instead, which also
	// tells its parent.
	SessionSetStatus(ctx context.Context, p *SessionSetStatusParams) (*incident.Session, error)
	// SessionSpawn starts child sessions under a parent in one transaction:
	// each new child with its input and deadline, its SpecialistJobArgs job
	// and a spawned event on the parent, plus one ComposeJobArgs job for
	// the parent scheduled at its deadline. It is idempotent per (parent,
	// agent): a child that exists is returned as stored, without a second
	// job, and a parent keeps the deadline of its first spawn. A parent at
	// incident.MaxSessionDepth is refused with an error matching
	// incident.ErrDepth, a final parent with one matching ErrConflict, and
	// nothing is stored. Children come back in the order asked.
	SessionSpawn(ctx context.Context, p *SessionSpawnParams) ([]*incident.Session, error)
	// SessionFinish records a session's final status, error and result
	// with a finished event, exactly once: for a session that is already
	// final (a specialist reporting after its parent composed without it)
	// it changes nothing and reports Done=false. When it makes the last
	// unfinished child of a parent that is not final yet final, it also
	// makes the parent's ComposeJobArgs job run now (ParentReady=true).
	// Implementations must serialize sibling finishes (SQLite has one
	// writer; PostgreSQL locks the parent row) so that concurrent last
	// finishes never leave the parent without a compose job.
	SessionFinish(ctx context.Context, p *SessionFinishParams) (*SessionFinishResult, error)
	// SessionListUnfinished lists sessions that are not final, oldest
	// first, at most ClampLimit(limit): after a restart, the commander
	// checks them for children whose job vanished.
	SessionListUnfinished(ctx context.Context, limit int) ([]*incident.Session, error)

	// SessionEventAppend appends one event to a session's progress log and
	// returns it stored: ID set, At set to now when zero, IncidentID and
	// Agent taken from the session when empty. An event that fails
	// incident.SessionEvent.Validate is an error matching
	// incident.ErrInvalid; an unknown session one matching ErrNotFound.
	SessionEventAppend(ctx context.Context, e *incident.SessionEvent) (*incident.SessionEvent, error)
	// SessionEventList pages through a session's events (with Tree, its
	// descendants' too) in ID order, which is the order they were
	// committed in: a reader that resumes after the last ID it saw never
	// misses one. An unknown session has no events.
	SessionEventList(ctx context.Context, p *SessionEventListParams) ([]*incident.SessionEvent, error)

	// FindingInsert records one step's result. A second insert for the same
	// (session, step) is ignored and reports Inserted=false, which is how a
	// resumed session skips work already done.
	FindingInsert(ctx context.Context, f *incident.Finding) (inserted bool, err error)
	FindingListBySession(ctx context.Context, sessionID string) ([]*incident.Finding, error)

	PollerMarkGet(ctx context.Context, instance string) (mark time.Time, ok bool, err error)
	PollerMarkSet(ctx context.Context, instance string, mark time.Time) error

	// AuditAppend appends one entry that is not part of another change to
	// the audit chain and returns it stored: ID, PrevHash and Hash set, At
	// set to now when zero. The caller redacts the detail first; an entry
	// failing incident.AuditEntry.Validate is an error matching
	// incident.ErrInvalid.
	//
	// Every audit entry, whether appended here or inside another method's
	// transaction, is chained with audit.Seal to the hash of the entry
	// before it, read in the same transaction. SQLite has one writer, so
	// that read cannot race another append. A PostgreSQL store must
	// serialize appends itself: take a transaction-scoped advisory lock
	// (pg_advisory_xact_lock on a constant key) before reading the head of
	// the chain, and keep ids in commit order (the lock does that, since
	// ids come from a sequence drawn while it is held), or two appends will
	// fork the chain.
	AuditAppend(ctx context.Context, e *incident.AuditEntry) (*incident.AuditEntry, error)
	// AuditList lists audit entries in id order, which is chain order,
	// filtered by p. Unfiltered, paging by AfterID streams the whole chain
	// for audit.Verifier.
	AuditList(ctx context.Context, p *AuditListParams) ([]*incident.AuditEntry, error)

	// MinerSnapshotGet returns the saved state of a template miner, or nil
	// when none was saved; MinerSnapshotSave replaces it. Template ids stay
	// stable across restarts through these.
	MinerSnapshotGet(ctx context.Context, name string) ([]byte, error)
	MinerSnapshotSave(ctx context.Context, name string, snapshot []byte) error

	// MemoryRecordUpsert saves a failure memory record. A new id is
	// inserted with the record's evidence; for a stored id the descriptive
	// fields (signature, template, exception type, excerpt, embedding,
	// embedded_by, label, updated_at) are replaced and the evidence
	// (action, outcome, verdict, counts, trust) and created_at are kept,
	// because those change only through MemoryRecordApply; the label too is
	// kept once a person has judged the record (ups or downs). On return r
	// holds what is stored. An empty id or an unknown outcome or verdict is
	// an error matching memory.ErrInvalid.
	MemoryRecordUpsert(ctx context.Context, r *memory.Record) error
	// MemoryRecordApply adds one update's evidence to a record atomically
	// in the database (safe with several processes) and returns the stored
	// result, trust recomputed with memory.ComputeTrust; see
	// memory.Update.Delta for what each part of u changes. Silence changes
	// nothing, not even updated_at. An unknown id is an error matching
	// ErrNotFound and memory.ErrNotFound; an invalid update one matching
	// memory.ErrInvalid.
	MemoryRecordApply(ctx context.Context, id string, u memory.Update, now time.Time) (*memory.Record, error)
	// MemoryRecordGet returns one record; an unknown id is an error matching
	// ErrNotFound and memory.ErrNotFound.
	MemoryRecordGet(ctx context.Context, id string) (*memory.Record, error)
	// MemoryRecordList pages through records in (updated_at, id) order, so
	// that a reader can pick up where it stopped. A stored embedding that
	// cannot be decoded comes back as none (and is logged), never as an
	// error.
	MemoryRecordList(ctx context.Context, p *MemoryRecordListParams) ([]*memory.Record, error)

	// ApprovalCreate stores a pending approval of a proposed action with an
	// approval.requested audit entry, in one transaction, and returns it
	// stored with created=true. While an approval with the same
	// IdempotencyKey is pending and unexpired it is returned instead,
	// unchanged, with created=false; a pending one past its expiry is
	// marked expired first. ExpiresAt, IncidentID, Action, IdempotencyKey
	// and RequestedBy are required (errors match incident.ErrInvalid).
	ApprovalCreate(ctx context.Context, a *incident.Approval) (*incident.Approval, bool, error)
	// ApprovalDecide approves or rejects a pending, unexpired approval and
	// audits who decided, with which role and why, in one transaction. An
	// approval enqueues the ActionJobArgs job that executes it (with the
	// edited Params, when given, which the executor validates again); a
	// rejection moves an incident awaiting approval to escalated. A
	// pending approval past its expiry is marked expired (and audited) and
	// refused with an error matching ErrConflict; so is an approval already
	// decided, the error saying who decided it and when. An approval by its
	// own requester under ForbidSelfApproval matches ErrForbidden, an
	// unknown id ErrNotFound.
	ApprovalDecide(ctx context.Context, p *ApprovalDecideParams) (*incident.Approval, error)
	ApprovalGet(ctx context.Context, id string) (*incident.Approval, error)
	// ApprovalExpire marks an approval still pending at now, and past its
	// expiry, expired (audited), and moves its incident from
	// awaiting_approval to escalated, in one transaction; it reports
	// whether it did. A decided or unexpired approval is left alone.
	ApprovalExpire(ctx context.Context, id string, now time.Time) (*incident.Approval, bool, error)
	// ApprovalList lists approvals newest first, filtered by p.
	ApprovalList(ctx context.Context, p *ApprovalListParams) ([]*incident.Approval, error)

	// ActionBegin records that an action is about to run, under its
	// idempotency key, with an action.started audit entry, and returns the
	// run with begun=true; a run with an ApprovalID marks that approval
	// executed in the same transaction. When the key is already stored it returns the
	// stored run with begun=false and its Attempts raised: the caller must
	// not act again, but check Airflow for what the first attempt did.
	// A new run whose Limits (budgets, rate limit) are used up is refused
	// with an error matching ErrLimit; the check and the insert are one
	// transaction.
	// Concurrent begins of one key begin it exactly once.
	ActionBegin(ctx context.Context, r *incident.ActionRun) (*incident.ActionRun, bool, error)
	// ActionFinish records how a started run ended, with an
	// action.finished audit entry; a run already finished is refused with
	// an error matching ErrConflict.
	ActionFinish(ctx context.Context, p *ActionFinishParams) (*incident.ActionRun, error)
	// ActionSetVerification records whether a run was seen to work, with
	// an action.verified audit entry, once: a run already verified is
	// refused with an error matching ErrConflict.
	ActionSetVerification(ctx context.Context, p *ActionSetVerificationParams) (*incident.ActionRun, error)
	ActionGet(ctx context.Context, idempotencyKey string) (*incident.ActionRun, error)
	// ActionListByIncident lists the action runs of an incident, oldest
	// first (by when each began), at most MaxListLimit; an incident with
	// none, or an unknown one, has an empty list.
	ActionListByIncident(ctx context.Context, incidentID string) ([]*incident.ActionRun, error)
	// RemediationCounters counts earlier action runs for the policy's
	// budgets, rate limit and prior-failure rule.
	RemediationCounters(ctx context.Context, p *CountersParams) (*RemediationCounts, error)

	// KillSwitchGet returns the runtime kill switch; off when never set.
	KillSwitchGet(ctx context.Context) (*KillSwitch, error)
	// KillSwitchSet turns the kill switch on or off, with an
	// actions.paused or actions.resumed audit entry, and returns it stored.
	KillSwitchSet(ctx context.Context, p *KillSwitchSetParams) (*KillSwitch, error)

	// SilenceCreate stores a silence (a maintenance window) with a
	// silence.created audit entry, in one transaction, and returns it
	// stored: ID and CreatedAt set, StartsAt set to now when zero. A
	// silence failing incident.Silence.Validate, or one that has already
	// ended, is an error matching incident.ErrInvalid.
	SilenceCreate(ctx context.Context, s *incident.Silence) (*incident.Silence, error)
	// SilenceList lists silences newest first, filtered by p.
	SilenceList(ctx context.Context, p *SilenceListParams) ([]*incident.Silence, error)
	// SilenceExpire ends a silence at at (now when zero) on behalf of by,
	// with a silence.expired audit entry, in one transaction. A silence
	// already expired or past its end is refused with an error matching
	// ErrConflict; an unknown id matches ErrNotFound.
	SilenceExpire(ctx context.Context, id, by string, at time.Time) (*incident.Silence, error)
	// SilenceMatch returns the silence active at at that matches inc
	// (incident.Silence.Matches), the one ending last when several do, or
	// nil when none does.
	SilenceMatch(ctx context.Context, inc *incident.Incident, at time.Time) (*incident.Silence, error)

	// NotifyDelivered reports whether the notifier already delivered this
	// update of the incident.
	NotifyDelivered(ctx context.Context, d *NotifyDelivery) (bool, error)
	// NotifyRecordDelivery records that the notifier delivered the update;
	// recording it again changes nothing.
	NotifyRecordDelivery(ctx context.Context, d *NotifyDelivery) error
	// NotifyMessageGet returns the notifier's living message of the
	// incident; ErrNotFound before one was posted.
	NotifyMessageGet(ctx context.Context, incidentID, notifier string) (*NotifyMessage, error)
	// NotifyMessageSave stores the message a notifier posted and returns it
	// with saved=true; when one is already stored for the incident and
	// notifier (another replica posted first) that one is returned
	// unchanged with saved=false.
	NotifyMessageSave(ctx context.Context, m *NotifyMessage) (*NotifyMessage, bool, error)
	// NotifyMessageUpdated counts an edit of the living message.
	NotifyMessageUpdated(ctx context.Context, incidentID, notifier string) error

	// ---- Slack alert channels (internal/ingest/slackalert) ----

	// SlackAlertInsert stores how a message of an alert channel was
	// handled and returns it stored with inserted=true; when the message is
	// already stored that row is returned unchanged with inserted=false,
	// which is how a re-read of the channel records nothing twice. Channel,
	// TS and a valid Status are required (errors match
	// incident.ErrInvalid).
	SlackAlertInsert(ctx context.Context, a *SlackAlert) (*SlackAlert, bool, error)
	// SlackAlertGet returns a stored message; ErrNotFound when it was never
	// handled.
	SlackAlertGet(ctx context.Context, channel, ts string) (*SlackAlert, error)
	// SlackAlertSetReply records medic's acknowledgement in the alert's
	// thread; an unknown message matches ErrNotFound.
	SlackAlertSetReply(ctx context.Context, channel, ts, replyTS string) error
	// SlackAlertListByIncident lists the alerts recorded into an incident,
	// oldest first.
	SlackAlertListByIncident(ctx context.Context, incidentID string) ([]*SlackAlert, error)
	// SlackAlertCursorGet returns the ts of the newest message handled in a
	// channel; ok=false before the first.
	SlackAlertCursorGet(ctx context.Context, channel string) (ts string, ok bool, err error)
	// SlackAlertCursorSet moves a channel's cursor; it only moves forward
	// (Slack timestamps compared as numbers).
	SlackAlertCursorSet(ctx context.Context, channel, ts string) error
	// SlackAlertReplied reports whether an alert's thread already got the
	// reply for reason (a notify reason such as "triaged").
	SlackAlertReplied(ctx context.Context, channel, ts, reason string) (bool, error)
	// SlackAlertRecordReply records that an alert's thread got the reply
	// for reason; recording it again changes nothing.
	SlackAlertRecordReply(ctx context.Context, channel, ts, reason, replyTS string) error

	// ---- end of Slack alert channels ----

	// Ping checks the database is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// A Store is the persistence of the failure memory's Keeper.
var _ memory.Persister = Store(nil)

// EventRecordParams is the input of Store.EventRecord.
type EventRecordParams struct {
	Event *incident.FailureEvent
	// Window is how long after an incident opened a failure of the same group
	// still joins it.
	Window time.Duration

	// Coalesce turns on storm coalescing: besides its DAG run (within
	// Window, as without it), the event joins an open incident that shares
	// one of Keys, and the incident's triage job is held back while events
	// keep joining. An incident is open until its investigation started
	// (the triage job was attempted or the root session left pending), it
	// is MaxAge old or it holds MaxBatch events.
	Coalesce bool
	// Keys are the event's structured keys, "kind:value", tried in order:
	// "run:<instance|dag|run>" (when grouping by run), "signature:<id>",
	// "host:<host[:port]>", "dataset:<uri>". The keys of the event that
	// opens an incident are the incident's.
	Keys []string
	// Cause names the event's failure (the first line of its error) for an
	// incident it opens.
	Cause string
	// Debounce holds back the investigation of a coalescing incident until
	// no event joined for this long, but never past MaxWait after it
	// opened.
	Debounce time.Duration
	MaxWait  time.Duration
	MaxAge   time.Duration
	MaxBatch int
}

// EventRecordResult says what EventRecord did.
type EventRecordResult struct {
	Event    *incident.FailureEvent
	Incident *incident.Incident
	// Duplicate is true when the identity was already stored; the stored event
	// is returned with its delivery count raised.
	Duplicate bool
	// IncidentCreated is true when this event opened a new incident.
	IncidentCreated bool

	// JoinedOn is the kind of the key the event joined its incident on
	// ("run", "signature", "host", "dataset"); empty when it opened the
	// incident or was a duplicate.
	JoinedOn string
	// Tasks and DAGs count the distinct tasks (dag and task id) and DAGs
	// of the incident's events, this one included; Cause is the incident's
	// cause (see EventRecordParams.Cause), empty when it did not coalesce.
	Tasks int
	DAGs  int
	Cause string
	// TriageAt is when the incident's investigation is due to start, for a
	// coalescing incident whose triage job is still held back; zero
	// otherwise.
	TriageAt time.Time
}

// TriageRequestParams is the input of Store.TriageRequest.
type TriageRequestParams struct {
	Instance string
	DagID    string
	RunID    string
	TaskID   string // optional: the task to focus on
	Actor    string
	Window   time.Duration
}

// TriageRequestResult is the incident and session a triage request maps to.
type TriageRequestResult struct {
	Incident *incident.Incident
	Session  *incident.Session
	Created  bool
}

// TriageCompleteParams is the input of Store.TriageComplete.
type TriageCompleteParams struct {
	IncidentID string
	SessionID  string
	Status     incident.SessionStatus
	Summary    string
	Severity   incident.Severity
	// State is the incident's next state: escalated when the report goes
	// to a person, empty to leave it investigating while remediation
	// decides.
	State incident.State
	// Remediate enqueues a RemediateJobArgs job in the same transaction.
	Remediate bool
}

// TriageCompleteResult reports whether this call did the completion.
type TriageCompleteResult struct {
	Incident *incident.Incident
	Done     bool
}

// IncidentListParams filters and pages IncidentList. Results are newest first.
type IncidentListParams struct {
	States   []incident.State
	DagID    string
	Instance string
	// Signature, when set, keeps incidents whose root cause has it.
	Signature string
	Since     time.Time
	Limit     int
	// Cursor is the NextCursor of a previous page.
	Cursor string
}

// IncidentListResult is one page of incidents.
type IncidentListResult struct {
	Incidents  []*incident.Incident
	NextCursor string
	Total      int
}

// IncidentTransitionParams is the input of Store.IncidentTransition.
type IncidentTransitionParams struct {
	ID string
	// From, when set, moves the incident only from that state: one found
	// elsewhere is returned unchanged (a person moved it first).
	From   incident.State
	To     incident.State
	Actor  string
	Reason string
}

// IncidentSetSignatureParams is the input of Store.IncidentSetSignature.
type IncidentSetSignatureParams struct {
	ID        string
	Signature string
}

// IncidentMarkNotifiedParams is the input of Store.IncidentMarkNotified.
type IncidentMarkNotifiedParams struct {
	IncidentID string
	Channel    string
}

// SessionSetStatusParams is the input of Store.SessionSetStatus.
type SessionSetStatusParams struct {
	ID     string
	Status incident.SessionStatus
	Error  string
}

// SessionSpawnParams is the input of Store.SessionSpawn.
type SessionSpawnParams struct {
	ParentID string
	Children []SessionChild
	// Deadline is when the parent composes, whether its children finished
	// or not; it is required.
	Deadline time.Time
	// Actor is who asked, for the audit trail.
	Actor string
}

// SessionChild is one child session SessionSpawn starts.
type SessionChild struct {
	// Agent names the specialist; it is unique among a parent's children.
	Agent string
	// Input is the child's brief, JSON, optional.
	Input json.RawMessage
}

// SessionFinishParams is the input of Store.SessionFinish.
type SessionFinishParams struct {
	ID string
	// Status must be final (incident.SessionStatus.Final).
	Status incident.SessionStatus
	Error  string
	// Result is the session's structured outcome, JSON, optional.
	Result json.RawMessage
	// Message is the text of the finished event; the status when empty.
	Message string
}

// SessionFinishResult says what SessionFinish did.
type SessionFinishResult struct {
	// Session is the session as stored after the call.
	Session *incident.Session
	// Done is true when this call finished the session.
	Done bool
	// ParentReady is true when this call finished the parent's last
	// unfinished child and made the parent's compose job due now.
	ParentReady bool
}

// SessionEventListParams pages Store.SessionEventList: the events with an
// ID above AfterID, at most Limit (ClampLimit applies).
type SessionEventListParams struct {
	SessionID string
	// Tree includes the events of the session's descendants.
	Tree    bool
	AfterID int64
	Limit   int
}

// AuditListParams filters AuditList, oldest first: the entries with an ID
// above AfterID matching every filter set, at most Limit (ClampLimit
// applies).
type AuditListParams struct {
	IncidentID string
	Actor      string
	// ActionPrefix keeps actions that start with it ("incident." or
	// "memory.feedback").
	ActionPrefix string
	// Since (inclusive) and Until (exclusive) bound the entries' time.
	Since   time.Time
	Until   time.Time
	AfterID int64
	Limit   int
}

// SilenceListParams filters SilenceList.
type SilenceListParams struct {
	// Active keeps the silences active at At (now when zero).
	Active bool
	At     time.Time
	// Limit bounds the list; ClampLimit applies.
	Limit int
}

// MemoryRecordListParams pages MemoryRecordList: the records strictly after
// (UpdatedAfter, AfterID), at most Limit (ClampLimit applies). It is
// memory's own type, so that a Store satisfies memory.Persister without
// the memory package importing this one.
type MemoryRecordListParams = memory.RecordListParams

// MemoryRecordNotFound returns the error for an unknown memory record id.
// It matches both ErrNotFound and memory.ErrNotFound, so that callers that
// only know the memory package (the API, through memory.Keeper) can tell a
// missing record from a failure as well.
func MemoryRecordNotFound(id string) error { return &memoryNotFoundError{id: id} }

type memoryNotFoundError struct{ id string }

func (e *memoryNotFoundError) Error() string { return "memory record " + e.id + " not found" }

func (e *memoryNotFoundError) Is(target error) bool {
	return target == ErrNotFound || target == memory.ErrNotFound
}

// Limits applied by every implementation.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// ClampLimit applies the default and maximum page sizes.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultListLimit
	case n > MaxListLimit:
		return MaxListLimit
	}
	return n
}
