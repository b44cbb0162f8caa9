package logscan

import (
	"bytes"
	"strings"
)

// maxHeaderLine bounds a line held back to check whether it is an Airflow 2
// source header; longer lines starting with '*' are passed through.
const maxHeaderLine = 1024

// maxSources bounds the distinct sources kept.
const maxSources = 64

// headerFilter moves Airflow 2 source header lines ("*** Found logs in s3:",
// "***   * s3://bucket/key", "*** Reading remote log from …") out of the log
// text into the Tailer's sources, streaming everything else on. Only lines
// starting with '*' are held back, and only up to maxHeaderLine bytes.
type headerFilter struct {
	line    []byte // a line starting with '*' being collected
	through bool   // the current line is being passed straight through
}

func (f *headerFilter) pending() bool { return len(f.line) > 0 }

func (f *headerFilter) write(t *Tailer, p []byte) {
	for len(p) > 0 {
		if f.through {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				t.emit(p)
				return
			}
			t.emit(p[:i+1])
			p, f.through = p[i+1:], false
			continue
		}
		if len(f.line) == 0 && p[0] != '*' {
			f.through = true
			continue
		}
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i+1]
		}
		if len(f.line)+len(chunk) > maxHeaderLine {
			t.emit(f.line)
			f.line, f.through = f.line[:0], true
			continue
		}
		f.line = append(f.line, chunk...)
		p = p[len(chunk):]
		if i >= 0 {
			f.flush(t)
		}
	}
}

// flush decides about the held-back line, complete or not.
func (f *headerFilter) flush(t *Tailer) {
	if len(f.line) == 0 {
		return
	}
	if src, ok := headerSource(strings.TrimRight(string(f.line), "\r\n")); ok {
		t.sources.add(src)
	} else {
		t.emit(f.line)
	}
	f.line = f.line[:0]
}

// headerSource recognises an Airflow 2 source header line and returns the
// source it names ("" for a heading such as "*** Found local files:").
// Header lines about failures to read a source ("*** Failed to fetch log
// file from worker", "*** Unable to read remote logs …") are not headers:
// they explain a missing log and stay in the text.
func headerSource(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "***")
	if !ok {
		return "", false
	}
	trimmed := strings.TrimSpace(rest)
	switch {
	case strings.HasPrefix(trimmed, "* "):
		return strings.TrimSpace(trimmed[2:]), true
	case strings.HasPrefix(trimmed, "Found ") && strings.HasSuffix(trimmed, ":"):
		return "", true
	case trimmed == "Log file isn't local.":
		return "", true
	case strings.HasPrefix(trimmed, "Reading remote log from "):
		return strings.TrimSuffix(strings.TrimPrefix(trimmed, "Reading remote log from "), "."), true
	case strings.HasPrefix(trimmed, "Reading local file: "):
		return strings.TrimPrefix(trimmed, "Reading local file: "), true
	case strings.HasPrefix(trimmed, "Fetching from: "):
		return strings.TrimPrefix(trimmed, "Fetching from: "), true
	case strings.HasPrefix(trimmed, "Fetching here: "):
		return strings.TrimPrefix(trimmed, "Fetching here: "), true
	}
	return "", false
}

// sourceSet collects distinct log sources, bounded.
type sourceSet struct{ list []string }

func (s *sourceSet) add(src string) {
	src = strings.TrimSpace(strings.ToValidUTF8(src, "\uFFFD"))
	if src == "" || len(s.list) >= maxSources {
		return
	}
	for _, have := range s.list {
		if have == src {
			return
		}
	}
	s.list = append(s.list, src)
}
