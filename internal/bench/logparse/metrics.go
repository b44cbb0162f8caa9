package logparse

import "fmt"

// Scores are the four accuracy metrics of one parse, each in [0, 1].
type Scores struct {
	// GA is grouping accuracy: the share of lines whose predicted group is
	// exactly their truth group.
	GA float64 `json:"ga"`
	// FGA is the F1 of group accuracy: template-level, every group counts
	// once whatever its size.
	FGA float64 `json:"fga"`
	// PA is parsing accuracy at message level: the share of lines whose
	// predicted template string equals the truth string exactly.
	PA float64 `json:"pa"`
	// FTA is the F1 of template accuracy: a predicted template is correct
	// when every line it covers has exactly that truth template.
	FTA float64 `json:"fta"`
}

// Score computes GA, FGA, PA and FTA as ../shared/loghub/METRICS.md defines
// them in the Loghub-2.0 style: a line's label is its template string, so
// two lines are in the same group iff their template strings are identical,
// for the truth and for the prediction alike. truth and pred are aligned by
// line and must have the same length.
//
// Like the reference, which reads both files with pandas, a truth label that
// pandas reads as missing ("", "NA", "null", "NaN", ...) drops its line, and
// such a prediction counts as "". An input with no lines scores zero.
func Score(truth, pred []string) (Scores, error) {
	if len(truth) != len(pred) {
		return Scores{}, fmt.Errorf("score: %d truth labels but %d predictions", len(truth), len(pred))
	}
	truth, pred = dropMissing(truth, pred)
	n := len(truth)
	if n == 0 {
		return Scores{}, nil
	}
	truthID, truthSize := intern(truth)
	predID, predSize := intern(pred)

	// For each truth group: the one predicted label its lines share, or -1
	// when they carry more than one.
	groupPred := make([]int, len(truthSize))
	for i := range groupPred {
		groupPred[i] = -2 // unseen
	}
	for i := range n {
		g, p := truthID[i], predID[i]
		switch groupPred[g] {
		case -2:
			groupPred[g] = p
		case p, -1:
		default:
			groupPred[g] = -1
		}
	}
	correctLines, correctGroups := 0, 0
	for g, p := range groupPred {
		if p >= 0 && predSize[p] == truthSize[g] {
			correctLines += truthSize[g]
			correctGroups++
		}
	}

	// For each predicted template: the one truth label its lines share, or
	// -1 when they carry more than one.
	predTruth := make([]int, len(predSize))
	for i := range predTruth {
		predTruth[i] = -2
	}
	exact := 0
	for i := range n {
		if truth[i] == pred[i] {
			exact++
		}
		p, g := predID[i], truthID[i]
		switch predTruth[p] {
		case -2:
			predTruth[p] = g
		case g, -1:
		default:
			predTruth[p] = -1
		}
	}
	correctTemplates := 0
	truthNames := names(truth, truthID, len(truthSize))
	predNames := names(pred, predID, len(predSize))
	for p, g := range predTruth {
		// {g[i] : i in S_t} == {t}: one truth label, equal to the string t.
		if g >= 0 && truthNames[g] == predNames[p] {
			correctTemplates++
		}
	}

	return Scores{
		GA:  float64(correctLines) / float64(n),
		FGA: f1(correctGroups, len(predSize), len(truthSize)),
		PA:  float64(exact) / float64(n),
		FTA: f1(correctTemplates, len(predSize), len(truthSize)),
	}, nil
}

// f1 is the harmonic mean of correct/predicted and correct/truth, 0 when
// both are 0.
func f1(correct, predicted, truth int) float64 {
	if correct == 0 || predicted == 0 || truth == 0 {
		return 0
	}
	p := float64(correct) / float64(predicted)
	r := float64(correct) / float64(truth)
	return 2 * p * r / (p + r)
}

// intern maps each distinct label to a dense id and counts its lines.
func intern(labels []string) (ids, sizes []int) {
	ids = make([]int, len(labels))
	seen := make(map[string]int)
	for i, l := range labels {
		id, ok := seen[l]
		if !ok {
			id = len(sizes)
			seen[l] = id
			sizes = append(sizes, 0)
		}
		ids[i] = id
		sizes[id]++
	}
	return ids, sizes
}

func names(labels []string, ids []int, k int) []string {
	out := make([]string, k)
	for i, id := range ids {
		out[id] = labels[i]
	}
	return out
}

// pandasNA are the strings pandas.read_csv turns into NaN by default.
var pandasNA = map[string]bool{
	"": true, "#N/A": true, "#N/A N/A": true, "#NA": true, "-1.#IND": true, "-1.#QNAN": true,
	"-NaN": true, "-nan": true, "1.#IND": true, "1.#QNAN": true, "<NA>": true, "N/A": true,
	"NA": true, "NULL": true, "NaN": true, "None": true, "n/a": true, "nan": true, "null": true,
}

// dropMissing removes lines whose truth label is missing and blanks missing
// predictions, copying only when something changes.
func dropMissing(truth, pred []string) ([]string, []string) {
	clean := true
	for i := range truth {
		if pandasNA[truth[i]] || (pred[i] != "" && pandasNA[pred[i]]) {
			clean = false
			break
		}
	}
	if clean {
		return truth, pred
	}
	var t, p []string
	for i := range truth {
		if pandasNA[truth[i]] {
			continue
		}
		t = append(t, truth[i])
		if pandasNA[pred[i]] {
			p = append(p, "")
		} else {
			p = append(p, pred[i])
		}
	}
	return t, p
}
