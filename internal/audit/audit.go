// Package audit is medic's tamper-evident audit trail: the canonical
// encoding of an entry, the SHA-256 hash chain that links every entry to the
// one before it, the check of that chain, and the structured Detail callers
// record. Stores use it to hash what they append, so the chain logic lives
// in one place.
//
// It must never hold secrets: callers redact a Detail before it is recorded,
// because an entry can never be changed afterwards without breaking the
// chain.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/incident"
)

// GenesisHash is the prev_hash of the first entry of a chain: 64 zeros.
var GenesisHash = strings.Repeat("0", 2*sha256.Size)

// encodingVersion starts every canonical encoding, so that a future change
// of encoding cannot produce the same bytes as this one.
const encodingVersion = "medic-audit-v1"

// Canonical is the byte encoding of an entry's content that its hash covers:
// the id, the time (RFC 3339 with nanoseconds, UTC), actor, action, incident
// id and detail, each as its length in bytes, a colon and the bytes, so
// that no two different entries encode alike. PrevHash and Hash are not
// part of it.
func Canonical(e *incident.AuditEntry) []byte {
	fields := []string{
		strconv.FormatInt(e.ID, 10),
		e.At.UTC().Format(time.RFC3339Nano),
		e.Actor,
		e.Action,
		e.IncidentID,
		string(e.Detail),
	}
	var b strings.Builder
	b.WriteString(encodingVersion)
	for _, f := range fields {
		b.WriteByte('\n')
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return []byte(b.String())
}

// Hash returns the hex SHA-256 of prevHash (hex, as stored) followed by the
// canonical encoding of e. It is what an entry's Hash must be when prevHash
// is the Hash of the entry before it (GenesisHash for the first).
func Hash(prevHash string, e *incident.AuditEntry) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(Canonical(e))
	return hex.EncodeToString(h.Sum(nil))
}

// Seal sets e.PrevHash to prevHash and e.Hash to the hash they chain to; e
// must already have its ID and At.
func Seal(prevHash string, e *incident.AuditEntry) {
	e.PrevHash = prevHash
	e.Hash = Hash(prevHash, e)
}
