package remediate

import (
	"testing"
)

// BenchmarkEvaluate measures one policy decision: every rule and the gate
// for an auto clear, and a trigger whose conf is checked against its
// JSON Schema.
func BenchmarkEvaluate(b *testing.B) {
	full := testConfig()
	p, err := New(full, "production")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("auto_clear", func(b *testing.B) {
		in := goodInput()
		b.ReportAllocs()
		for b.Loop() {
			if d := p.Evaluate(in); d.Outcome != OutcomeExecute {
				b.Fatalf("outcome %s", d.Outcome)
			}
		}
	})
	b.Run("trigger_conf_schema", func(b *testing.B) {
		in := goodInput()
		in.DagID, in.Proposed = "reports_daily", string(TriggerDagRun)
		in.Facts.RunState = "failed"
		in.Params.Conf = map[string]any{"date": "2026-05-01", "full": true}
		b.ReportAllocs()
		for b.Loop() {
			if d := p.Evaluate(in); d.Outcome == OutcomeRefuse {
				b.Fatalf("refused: %+v", d.Reasons)
			}
		}
	})
}
