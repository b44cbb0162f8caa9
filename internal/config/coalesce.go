package config

import (
	"slices"
	"time"
)

// Coalesce key kinds: the structured keys on which a failure joins an open
// incident.
const (
	// CoalesceKeyRun joins failures of the same DAG run.
	CoalesceKeyRun = "run"
	// CoalesceKeySignature joins failures with the same failure signature
	// of their error text (a generic signature never joins).
	CoalesceKeySignature = "signature"
	// CoalesceKeyHost joins failures naming the same upstream host (and
	// port) in their error text.
	CoalesceKeyHost = "host"
	// CoalesceKeyDataset joins failures of the same dataset URI.
	CoalesceKeyDataset = "dataset"
)

// CoalesceKeys are the key kinds, in the order an event tries them.
var CoalesceKeys = []string{CoalesceKeyRun, CoalesceKeySignature, CoalesceKeyHost, CoalesceKeyDataset}

// Limits that Validate enforces on ingest.coalesce.
const (
	MaxCoalesceBatch = 100000
)

// Coalesce configures storm coalescing: a failure joins an open incident
// whose structured keys it shares, and an incident's investigation waits
// until failures stop joining it, so that one outage is one incident.
type Coalesce struct {
	Enabled bool `yaml:"enabled"`
	// Debounce is how long no new failure must have joined before the
	// investigation starts.
	Debounce time.Duration `yaml:"debounce"`
	// MaxWait is the longest an investigation waits after the first
	// failure, however many keep joining.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxBatch is how many failures one incident collects on storm keys;
	// the investigation starts when it is full.
	MaxBatch int `yaml:"max_batch"`
	// MaxAge is how long after it opened an incident still collects
	// failures on storm keys; later ones open a new incident.
	MaxAge time.Duration `yaml:"max_age"`
	// Keys are the key kinds used, of CoalesceKeys.
	Keys []string `yaml:"keys"`
}

// DefaultCoalesce returns the coalescing defaults.
func DefaultCoalesce() Coalesce {
	return Coalesce{
		Enabled:  true,
		Debounce: 10 * time.Second,
		MaxWait:  time.Minute,
		MaxBatch: 1000,
		MaxAge:   time.Hour,
		Keys:     slices.Clone(CoalesceKeys),
	}
}

// Validate checks ingest.coalesce on its own; Config.Validate reports the
// same problems.
func (c Coalesce) Validate() error {
	v := &validator{}
	c.validate(v)
	return joinFieldErrors(v.errs)
}

func (c Coalesce) validate(v *validator) {
	const p = "ingest.coalesce."
	v.positive(p+"debounce", c.Debounce)
	v.positive(p+"max_wait", c.MaxWait)
	v.positive(p+"max_age", c.MaxAge)
	if c.Debounce > c.MaxWait {
		v.add(p+"debounce", "want at most max_wait (%s), got %s", c.MaxWait, c.Debounce)
	}
	if c.MaxWait > c.MaxAge {
		v.add(p+"max_wait", "want at most max_age (%s), got %s", c.MaxAge, c.MaxWait)
	}
	if c.MaxBatch < 1 || c.MaxBatch > MaxCoalesceBatch {
		v.add(p+"max_batch", "want from 1 to %d failures, got %d", MaxCoalesceBatch, c.MaxBatch)
	}
	seen := map[string]bool{}
	for _, k := range c.Keys {
		v.oneOf(p+"keys", k, CoalesceKeys)
		if seen[k] {
			v.add(p+"keys", "key %q is listed twice", k)
		}
		seen[k] = true
	}
}
