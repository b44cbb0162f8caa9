package airflowsim

import (
	"fmt"
	"strconv"
	"strings"
)

// Python tracebacks in task logs: finding the exception a callback reports,
// and parsing a printed chain into structlog's exception dicts for 3.x.

// exceptionFrom finds the exception a failure callback would report: the
// final exception of the last traceback in the body, else the last ERROR
// record, else the exit code.
func exceptionFrom(lines []logLine, exitCode int) string {
	lastTB := -1
	for i, l := range lines {
		if l.raw && l.msg == "Traceback (most recent call last):" && (i == 0 || !lines[i-1].raw) {
			lastTB = i
		}
	}
	if lastTB >= 0 {
		var block []string
		for _, l := range lines[lastTB:] {
			if !l.raw {
				break
			}
			block = append(block, l.msg)
		}
		if excs := parseTraceback(block); len(excs) > 0 && excs[0].text != "" {
			return strings.ToValidUTF8(excs[0].text, "\uFFFD")
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if lv := lines[i].level; lv == "ERROR" || lv == "CRITICAL" {
			return strings.ToValidUTF8(lines[i].msg, "\uFFFD")
		}
	}
	return fmt.Sprintf("Task exited with return code %d", exitCode)
}

// excInfo is one exception of a chain, in structlog's
// ExceptionDictTransformer shape (as 3.x puts it under error_detail).
type excInfo struct {
	ExcType     string     `json:"exc_type"`
	ExcValue    string     `json:"exc_value"`
	ExcNotes    []string   `json:"exc_notes"`
	SyntaxError *string    `json:"syntax_error"`
	IsCause     bool       `json:"is_cause"`
	Frames      []excFrame `json:"frames"`
	IsGroup     bool       `json:"is_group"`
	Exceptions  []excInfo  `json:"exceptions"`
	text        string     // "module.Type: value" as printed
}

type excFrame struct {
	Filename string `json:"filename"`
	Lineno   int    `json:"lineno"`
	Name     string `json:"name"`
}

const (
	causeSep   = "The above exception was the direct cause of the following exception:"
	contextSep = "During handling of the above exception, another exception occurred:"
)

// parseTraceback turns printed traceback lines (possibly a chain) into
// structlog-style exception dicts, outermost (last printed) first.
func parseTraceback(block []string) []excInfo {
	type segment struct {
		lines   []string
		isCause bool // this segment was the direct cause of the next
	}
	var segs []segment
	cur := segment{}
	for _, l := range block {
		switch strings.TrimSpace(l) {
		case causeSep, contextSep:
			cur.isCause = strings.TrimSpace(l) == causeSep
			segs = append(segs, cur)
			cur = segment{}
			continue
		}
		cur.lines = append(cur.lines, l)
	}
	segs = append(segs, cur)

	out := make([]excInfo, 0, len(segs))
	for i := len(segs) - 1; i >= 0; i-- {
		e := excInfo{ExcNotes: []string{}, Frames: []excFrame{}, Exceptions: []excInfo{}, IsCause: segs[i].isCause}
		var excLines []string
		for _, l := range segs[i].lines {
			if len(excLines) > 0 {
				excLines = append(excLines, l)
				continue
			}
			if f, ok := parseFrame(l); ok {
				e.Frames = append(e.Frames, f)
				continue
			}
			if l == "" || l == "Traceback (most recent call last):" || l[0] == ' ' || l[0] == '\t' {
				continue
			}
			excLines = append(excLines, l)
		}
		for len(excLines) > 0 && strings.TrimSpace(excLines[len(excLines)-1]) == "" {
			excLines = excLines[:len(excLines)-1]
		}
		if len(excLines) == 0 {
			continue
		}
		e.text = strings.Join(excLines, "\n")
		typ, val, _ := strings.Cut(e.text, ": ")
		if i := strings.LastIndexByte(typ, '.'); i >= 0 {
			typ = typ[i+1:]
		}
		e.ExcType, e.ExcValue = typ, val
		out = append(out, e)
	}
	return out
}

func parseFrame(l string) (excFrame, bool) {
	s := strings.TrimLeft(l, " ")
	if !strings.HasPrefix(s, `File "`) {
		return excFrame{}, false
	}
	s = s[len(`File "`):]
	file, rest, ok := strings.Cut(s, `", line `)
	if !ok {
		return excFrame{}, false
	}
	num, name, _ := strings.Cut(rest, ", in ")
	n, err := strconv.Atoi(num)
	if err != nil {
		return excFrame{}, false
	}
	return excFrame{Filename: file, Lineno: n, Name: name}, true
}
