// Package owners answers, for one failed Airflow task, who owns it, what
// its failure holds up downstream, and how severe that is. It is what the
// owner-notifier specialist calls.
//
// Owners come from, strongest first: the ownership file's most specific
// matching rule (docs/ownership.md), the dbt model the task ran (meta.owner,
// meta.tier, its group's owner), the DAG's tags (team:, tier:, owner:,
// slack:), the DAG's owners list, and the file's default owner. Each field
// of the answer comes from the strongest source that sets it, and the
// answer lists every source with its evidence.
//
// Impact is the DAG's tasks downstream of the failed one, and the dbt
// models and exposures downstream of the failed models through the
// manifest's child map, each walk bounded and cycle-safe. Severity follows
// one written rule (severityOf) over the tiers found.
//
// Files are outside input. A bad ownership file or manifest becomes a Note
// on every Result, never a panic, a hang or a failed resolution; this
// package must never fetch anything from the network or write anywhere.
package owners
