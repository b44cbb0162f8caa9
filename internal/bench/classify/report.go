package classify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the scores, the per-label table, the confusion matrix
// and the reliability table for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "mode\t%s\n", r.Mode)
	fmt.Fprintf(tw, "cases\t%d\n", r.N)
	fmt.Fprintf(tw, "accuracy\t%.3f\n", r.Accuracy)
	fmt.Fprintf(tw, "macro_f1\t%.3f\n", r.MacroF1)
	fmt.Fprintf(tw, "retry_safe precision\t%.3f\n", r.RetrySafePrecision)
	fmt.Fprintf(tw, "retry_safe recall\t%.3f\n", r.RetrySafeRecall)
	fmt.Fprintf(tw, "remediation accuracy\t%.3f\n", r.RemediationAcc)
	fmt.Fprintf(tw, "hard-case accuracy\t%.3f\n", r.HardAccuracy)
	fmt.Fprintf(tw, "ece (%d bins)\t%.3f\n", Bins, r.ECE)
	fmt.Fprintf(tw, "abstention rate\t%.3f\n", r.AbstentionRate)
	fmt.Fprintf(tw, "cases/s\t%.0f\n\n", r.CasesPerSec)
	if m := r.Memory; m != nil {
		fmt.Fprintf(tw, "memory\t%d records; each case recalls the other %d groups' records\n", m.Records, m.Groups-1)
		fmt.Fprintf(tw, "with a precedent\t%d (%d same signature)\n", m.WithPrecedent, m.Exact)
		fmt.Fprintf(tw, "labels changed\t%d (%d wrong→right, %d right→wrong)\n", m.Changed, m.Fixed, m.Broke)
		fmt.Fprintf(tw, "lookup+recall\tp50 %.3f ms, max %.3f ms\n", m.LookupP50Ms, m.LookupMaxMs)
		fmt.Fprintln(tw, "\tcold\twith memory")
		fmt.Fprintf(tw, "accuracy\t%.3f\t%.3f\n", m.Cold.Accuracy, r.Accuracy)
		fmt.Fprintf(tw, "macro_f1\t%.3f\t%.3f\n", m.Cold.MacroF1, r.MacroF1)
		fmt.Fprintf(tw, "retry_safe precision\t%.3f\t%.3f\n", m.Cold.RetrySafePrecision, r.RetrySafePrecision)
		fmt.Fprintf(tw, "retry_safe recall\t%.3f\t%.3f\n", m.Cold.RetrySafeRecall, r.RetrySafeRecall)
		fmt.Fprintf(tw, "ece\t%.3f\t%.3f\n", m.Cold.ECE, r.ECE)
		fmt.Fprintf(tw, "abstention rate\t%.3f\t%.3f\n\n", m.Cold.AbstentionRate, r.AbstentionRate)
	}

	labels := r.SortedLabels()
	fmt.Fprintln(tw, "label\tsupport\tpredicted\tprecision\trecall\tf1")
	for _, l := range labels {
		s := r.PerLabel[l]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\n", l, s.Support, s.Predicted, s.Precision, s.Recall, s.F1)
	}
	fmt.Fprintln(tw)

	fmt.Fprintln(tw, "confusion (rows truth, columns predicted)")
	head := []string{"truth \\ pred"}
	for _, l := range labels {
		head = append(head, abbrev(l))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, t := range labels {
		row := []string{t}
		for _, p := range labels {
			row = append(row, fmt.Sprint(r.Confusion[t][p]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	fmt.Fprintln(tw)

	fmt.Fprintln(tw, "reliability\tcount\taccuracy\tconfidence")
	for _, b := range r.Reliability {
		fmt.Fprintf(tw, "[%.1f,%.1f)\t%d\t%.3f\t%.3f\n", b.Lo, b.Hi, b.Count, b.Accuracy, b.Confidence)
	}
	return tw.Flush()
}

// WriteJSON writes the result as one JSON line.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode classify bench result: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// abbrev shortens a label for a matrix column header.
func abbrev(l string) string {
	parts := strings.Split(l, "_")
	if len(parts) == 1 {
		return l[:min(len(l), 6)]
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p[:min(len(p), 3)])
	}
	return b.String()
}
