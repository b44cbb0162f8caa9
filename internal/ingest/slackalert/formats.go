package slackalert

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/incident"
)

// Airflow's default failure email. Airflow 2.2+ renders the subject's
// task instance as "<TaskInstance: dag.task run_id [failed]>" (with
// "map_index=N" for a mapped task; before 2.2 the execution date stood in
// for the run id); Airflow 3 renders its RuntimeTaskInstance as
// "id=UUID('…') task_id='t' dag_id='d' run_id='r' try_number=1 …".
var (
	emailSubject  = regexp.MustCompile(`(?i)airflow alert:`)
	taskInstance2 = regexp.MustCompile(`TaskInstance:\s*(\S+)\s+(\S+)(?:\s+map_index=(-?\d+))?\s*\[([a-z_ ]*)\]`)
	taskInstance3 = regexp.MustCompile(`\b(dag_id|task_id|run_id|try_number|map_index|hostname)=(?:'([^']*)'|"([^"]*)"|(-?\d+))`)
	tryOutOf      = regexp.MustCompile(`(?i)\btry\s+(\d+)\s+out\s+of\s+(\d+)`)
)

func parseEmail(d *doc) (*Alert, []string, bool) {
	tryM := tryOutOf.FindStringSubmatch(d.plain)
	sub2 := taskInstance2.FindStringSubmatch(d.plain)
	subject := emailSubject.MatchString(d.plain)
	if !subject && sub2 == nil && (tryM == nil || !strings.Contains(d.plain, "Exception:")) {
		return nil, nil, false
	}
	a := newAlert()
	if tryM != nil {
		a.TryNumber, _ = strconv.Atoi(tryM[1])
	}
	dagTask := ""
	if sub2 != nil {
		dagTask = id(sub2[1])
		if t, ok := parseTime(sub2[2]); ok {
			a.LogicalDate = &t
		} else {
			a.RunID = id(sub2[2])
		}
		if sub2[3] != "" {
			a.MapIndex, _ = strconv.Atoi(sub2[3])
		}
	} else if subject {
		for _, m := range taskInstance3.FindAllStringSubmatch(d.plain, 16) {
			v := m[2] + m[3] + m[4]
			switch m[1] {
			case "dag_id":
				a.DagID = id(v)
			case "task_id":
				a.TaskID = id(v)
			case "run_id":
				a.RunID = id(v)
			case "try_number":
				if a.TryNumber == 0 {
					a.TryNumber, _ = strconv.Atoi(v)
				}
			case "map_index":
				a.MapIndex, _ = strconv.Atoi(v)
			case "hostname":
				a.Host = id(v)
			}
		}
	}
	a.Exception = exceptionBlock(d.lines)
	for _, l := range d.lines {
		k, v, ok := strings.Cut(l.text, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "host":
			if a.Host == "" {
				a.Host = id(v)
			}
		case "log":
			if len(l.urls) > 0 {
				a.LogURL = l.urls[0]
			}
		}
	}
	for _, u := range d.urls {
		// The log and mark-success links name the dag and task apart,
		// which "dag.task" cannot: both may hold dots.
		a.applyURL(u)
	}
	if dagTask != "" && (a.DagID == "" || a.TaskID == "") {
		switch {
		case a.DagID != "" && strings.HasPrefix(dagTask, a.DagID+"."):
			a.TaskID = dagTask[len(a.DagID)+1:]
		case a.TaskID != "" && strings.HasSuffix(dagTask, "."+a.TaskID):
			a.DagID = dagTask[:len(dagTask)-len(a.TaskID)-1]
		default:
			// Without a link, split at the first dot: task group ids
			// put dots in task ids far more often than DAG ids hold one.
			a.DagID, a.TaskID, _ = strings.Cut(dagTask, ".")
		}
	}
	return a, a.missing(false), true
}

// exceptionBlock is the text after "Exception:" up to the next field of
// the email.
func exceptionBlock(lines []line) string {
	var out []string
	in := false
	for _, l := range lines {
		if !in {
			if rest, ok := strings.CutPrefix(l.text, "Exception:"); ok {
				in = true
				if rest = strings.TrimSpace(rest); rest != "" {
					out = append(out, rest)
				}
			}
			continue
		}
		k, _, _ := strings.Cut(l.text, ":")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "log", "host", "log file", "mark success":
			return capText(strings.Join(out, "\n"))
		}
		out = append(out, l.text)
	}
	return capText(strings.TrimSpace(strings.Join(out, "\n")))
}

func capText(s string) string {
	if len(s) <= incident.MaxExceptionLen {
		return s
	}
	s = s[:incident.MaxExceptionLen]
	for len(s) > 0 {
		// Do not end inside a UTF-8 sequence the cut split.
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// The on_failure_callback messages teams post with SlackNotifier or
// SlackWebhookHook: a "Task Failed" line and "*Label*: value" lines.
var callbackTitle = regexp.MustCompile(`(?i)\b(task|dag)\s+(has\s+)?failed\b|\bfailed\s+(task|dag)\b|\btask\s+failure\b`)

func parseSlackCallback(d *doc) (*Alert, []string, bool) {
	dag, _, hasDag := d.field("dag")
	task, _, hasTask := d.field("task")
	recognised := (hasDag && hasTask) || ((hasDag || hasTask) && callbackTitle.MatchString(d.plain))
	if !recognised {
		return nil, nil, false
	}
	a := newAlert()
	a.DagID, a.TaskID = id(dag), id(task)
	if v, _, ok := d.field("run"); ok {
		a.RunID = id(v)
	}
	if v, _, ok := d.field("date"); ok {
		if t, ok := parseTime(v); ok {
			a.LogicalDate = &t
		}
	}
	if v, _, ok := d.field("try"); ok {
		a.TryNumber = leadingInt(v)
	}
	if m := tryOutOf.FindStringSubmatch(d.plain); m != nil && a.TryNumber == 0 {
		a.TryNumber, _ = strconv.Atoi(m[1])
	}
	if v, _, ok := d.field("host"); ok {
		a.Host = id(v)
	}
	if v, _, ok := d.field("instance"); ok {
		a.Instance = id(v)
	}
	if v, _, ok := d.field("exception"); ok {
		a.Exception = capText(v)
	}
	if v, urls, ok := d.field("log"); ok {
		switch {
		case len(urls) > 0:
			a.LogURL = urls[0]
		case strings.HasPrefix(v, "http://"), strings.HasPrefix(v, "https://"):
			a.LogURL = strings.Fields(v)[0]
		}
	}
	if a.LogURL != "" {
		a.applyURL(a.LogURL)
	}
	for _, u := range d.urls {
		a.applyURL(u)
	}
	return a, a.missing(false), true
}

// Astro alerts: "[Astro Alerts] Pipeline failure detected on DAG fail_dag.",
// "Start time: …", "Failed at: 2023-11-17 17:40:10 UTC.", and a link to
// the run in the Astro UI, whose ids are Astro's, not Airflow's.
var (
	astroMark = regexp.MustCompile(`(?i)\bastro\s+alerts?\b|cloud\.astronomer\.io|failure detected on dag\b`)
	astroDag  = regexp.MustCompile(`(?i)failure detected on dag\s+([^\s,;]+)`)
)

func parseAstronomer(d *doc) (*Alert, []string, bool) {
	if !astroMark.MatchString(d.plain) {
		return nil, nil, false
	}
	a := newAlert()
	if m := astroDag.FindStringSubmatch(d.plain); m != nil {
		a.DagID = id(strings.TrimSuffix(m[1], "."))
	} else if v, _, ok := d.field("dag"); ok {
		a.DagID = id(v)
	}
	if v, _, ok := d.field("task"); ok {
		a.TaskID = id(v)
	}
	if v, _, ok := d.field("run"); ok {
		a.RunID = id(v)
	}
	if v, _, ok := d.field("failed"); ok {
		if t, ok := parseTime(v); ok {
			a.FailedAt = &t
		}
	}
	if v, _, ok := d.field("exception"); ok {
		a.Exception = capText(v)
	}
	for _, u := range d.urls {
		a.applyURL(u)
	}
	return a, a.missing(true), true
}

// customParser reads an alert with an operator's pattern.
func customParser(re *regexp.Regexp) func(d *doc) (*Alert, []string, bool) {
	return func(d *doc) (*Alert, []string, bool) {
		m := re.FindStringSubmatch(d.plain)
		if m == nil {
			return nil, nil, false
		}
		group := func(name string) string {
			if i := re.SubexpIndex(name); i >= 0 {
				return strings.TrimSpace(m[i])
			}
			return ""
		}
		a := newAlert()
		a.DagID, a.TaskID, a.RunID = id(group("dag_id")), id(group("task_id")), id(group("run_id"))
		a.TryNumber = leadingInt(group("try_number"))
		if t, ok := parseTime(group("logical_date")); ok {
			a.LogicalDate = &t
		}
		a.Exception = capText(group("exception"))
		a.Instance = id(group("instance"))
		if u := group("log_url"); u != "" {
			a.LogURL = u
			a.applyURL(u)
		}
		for _, u := range d.urls {
			a.applyURL(u)
		}
		return a, a.missing(false), true
	}
}

func leadingInt(s string) int {
	s = cleanValue(s)
	end := 0
	for end < len(s) && end < 6 && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

// timeLayouts are how alerts write times: Airflow's ISO 8601 (pendulum),
// Python's str() of a datetime, and Astro's "2023-11-17 17:40:10 UTC".
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05 MST",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05Z0700",
}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSuffix(cleanValue(s), ".")
	if len(s) < len("2006-01-02") || len(s) > 64 {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// urlFacts is what an Airflow UI link says about a task try.
type urlFacts struct {
	dag, task, run string
	try, mapIndex  int
	logical        *time.Time
}

// airflowURL reads an Airflow UI link: Airflow 3's
// /dags/{dag}/runs/{run}/tasks/{task}[/mapped/{i}]?try_number=N, Airflow
// 2.7+'s /dags/{dag}/grid?dag_run_id=…&task_id=…, and older 2.x links
// such as /log?dag_id=…&task_id=…&execution_date=… and
// /confirm?…&dag_run_id=… (mark success). Astro UI links carry Astro's
// ids and are skipped.
func airflowURL(raw string) (urlFacts, bool) {
	f := urlFacts{mapIndex: -1}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return f, false
	}
	if strings.EqualFold(u.Hostname(), "cloud.astronomer.io") {
		return f, false
	}
	q := u.Query()
	f.dag, f.task = id(q.Get("dag_id")), id(q.Get("task_id"))
	f.run = id(first(q.Get("dag_run_id"), q.Get("run_id")))
	f.try = leadingInt(q.Get("try_number"))
	if mi := q.Get("map_index"); mi != "" {
		if n, err := strconv.Atoi(mi); err == nil && n >= 0 {
			f.mapIndex = n
		}
	}
	if t, ok := parseTime(first(q.Get("logical_date"), q.Get("execution_date"))); ok {
		f.logical = &t
	}
	segs := pathSegments(u)
	if i := slices.Index(segs, "dags"); i >= 0 && i+1 < len(segs) {
		f.dag = first(id(segs[i+1]), f.dag)
		rest := segs[i+2:]
		if len(rest) >= 2 && rest[0] == "runs" {
			f.run = first(id(rest[1]), f.run)
			rest = rest[2:]
		}
		if len(rest) >= 2 && rest[0] == "tasks" {
			f.task = first(id(rest[1]), f.task)
			rest = rest[2:]
		}
		if len(rest) >= 2 && rest[0] == "mapped" {
			if n, err := strconv.Atoi(rest[1]); err == nil && n >= 0 {
				f.mapIndex = n
			}
		}
	}
	return f, f.dag != ""
}

func pathSegments(u *url.URL) []string {
	var out []string
	for _, s := range strings.Split(u.EscapedPath(), "/") {
		if s == "" {
			continue
		}
		v, err := url.PathUnescape(s)
		if err != nil {
			v = s
		}
		out = append(out, v)
	}
	return out
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
