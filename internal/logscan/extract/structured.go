package extract

import (
	"encoding/json"
	"strings"
)

// Airflow 3 writes the exception of a failed task as structured data: a
// JSON log entry whose "error_detail" is structlog's exception list, the
// outermost exception first, each with is_cause when it was the direct
// cause of the one before it.

type structuredEntry struct {
	Event       string            `json:"event"`
	ErrorDetail []structuredStack `json:"error_detail"`
}

type structuredStack struct {
	ExcType  string `json:"exc_type"`
	ExcValue string `json:"exc_value"`
	IsCause  bool   `json:"is_cause"`
	Frames   []struct {
		Filename string `json:"filename"`
		Lineno   int    `json:"lineno"`
		Name     string `json:"name"`
	} `json:"frames"`
}

// structuredTracebacks turns JSON entries carrying error_detail into blocks.
func (s *scan) structuredTracebacks() {
	for i, l := range s.lines {
		raw := strings.TrimSpace(l.raw)
		if len(raw) < 2 || raw[0] != '{' || !strings.Contains(raw, `"error_detail"`) {
			continue
		}
		var e structuredEntry
		if json.Unmarshal([]byte(raw), &e) != nil || len(e.ErrorDetail) == 0 {
			continue
		}
		stacks := e.ErrorDetail
		if len(stacks) > 4*MaxChain {
			stacks = append(stacks[:2*MaxChain:2*MaxChain], stacks[len(stacks)-2*MaxChain:]...)
		}
		root := stacks[len(stacks)-1]
		c := &cand{Block: Block{
			Kind: KindPython, ExceptionType: root.ExcType, Message: root.ExcValue,
			Start: i, End: i + 1, Confidence: 0.9,
		}}
		if len(stacks) > 1 {
			for k, st := range stacks {
				cause := Cause{ExceptionType: st.ExcType, Message: firstLine(st.ExcValue), Line: i}
				switch {
				case k > 0 && st.IsCause:
					cause.Relation = "direct_cause"
				case k > 0:
					cause.Relation = "during_handling"
				}
				c.Chain = append(c.Chain, cause)
				c.typesSeen = append(c.typesSeen, st.ExcType)
			}
		}
		frames := make([]Frame, 0, len(root.Frames))
		for _, f := range root.Frames {
			frames = append(frames, Frame{File: f.Filename, Line: f.Lineno, Function: f.Name, User: isUserPythonFile(f.Filename)})
		}
		setFrames(c, frames, true)
		if isFailureAnnouncement(e.Event) {
			c.Confidence += 0.05
		}
		c.typesSeen = append(c.typesSeen, root.ExcType)
		s.classify(c)
		s.add(c)
	}
}
