package extract

import (
	"regexp"
	"strings"
)

// podReasons are Kubernetes termination and waiting reasons, most telling
// first: when a pod shows several (CrashLoopBackOff waiting on an OOMKilled
// last state), the first in this list is the cause.
var podReasons = []string{
	"OOMKilled", "Evicted", "OutOfmemory", "OutOfcpu", "DeadlineExceeded", "NodeLost", "Preempted",
	"Shutdown", "NodeShutdown", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError", "ContainerCannotRun", "StartError",
	"UnexpectedAdmissionError", "ContainerStatusUnknown", "Error", "CrashLoopBackOff",
}

var podReasonConfidence = map[string]float64{
	"OOMKilled": 0.85, "Evicted": 0.85, "OutOfmemory": 0.8, "OutOfcpu": 0.75, "DeadlineExceeded": 0.7,
	"NodeLost": 0.75, "Preempted": 0.75, "Shutdown": 0.7, "NodeShutdown": 0.7, "ImagePullBackOff": 0.8,
	"ErrImagePull": 0.8, "InvalidImageName": 0.8, "CreateContainerConfigError": 0.8,
	"CreateContainerError": 0.75, "ContainerCannotRun": 0.75, "StartError": 0.7,
	"UnexpectedAdmissionError": 0.7, "ContainerStatusUnknown": 0.6, "Error": 0.4, "CrashLoopBackOff": 0.5,
}

var (
	reasonAlt = `(` + strings.Join(podReasons, "|") + `)`
	// "Reason: OOMKilled" (describe), `"reason": "Evicted"` (JSON), "'reason': 'OOMKilled'" (a Python dict)
	podReasonRe = regexp.MustCompile(`(?:^|[\s{,])(?:[Rr]eason:\s+|container_reason:\s*|["']reason["']:\s*["'])` + reasonAlt + `\b`)
	// "NAME   READY   STATUS      RESTARTS   AGE" rows of kubectl get pods
	podRowRe    = regexp.MustCompile(`^\S+\s+\d+/\d+\s+` + reasonAlt + `\s+\d+`)
	podExitRe   = regexp.MustCompile(`(?:Exit Code:\s+|["']?exit_?[cC]ode["']?:\s*|exit code:? )(-?\d+)`)
	podMsgRe    = regexp.MustCompile(`(?m)(?:^Message:\s+|["']message["']:\s*["'])([^"'\n]+)`)
	podNameRe   = regexp.MustCompile(`(?m)^Name:\s+(\S+)|["']pod_?[nN]ame["']:\s*["']([^"']+)`)
	podEventRe  = regexp.MustCompile(`\bWarning\s+(Evicted|OOMKilling|FailedScheduling|BackOff|Failed|FailedMount|FailedCreatePodSandBox|Unhealthy)\s+.*?\s{2,}(\S.*)$`)
	podFieldRe  = regexp.MustCompile(`^(?:State|Last State|Reason|Exit Code|Signal|Message|Started|Finished|Ready|Restart Count|Status|Container ID|Image|Name|Containers|Events|Type|Node):`)
	nodeLowRe   = regexp.MustCompile(`The node was low on resource: ([\w-]+)|exceeded its local ephemeral storage limit|Pod ephemeral local storage usage exceeds|Memory cgroup out of memory|\d+ Insufficient (?:cpu|memory|ephemeral-storage)`)
	podStatusRe = regexp.MustCompile(`^Status:\s+Failed$`)
)

// kubernetesLines finds pod terminations in kubectl output and pod status
// dumps.
func (s *scan) kubernetesLines() {
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := strings.TrimSpace(s.text(i))
		if !containsAny(t, "eason", "Warning", "low on resource", "ephemeral", "Memory cgroup", "Insufficient", "Status:") &&
			(!strings.Contains(t, "/") || !containsAny(t, podReasons...)) {
			continue
		}
		if !podReasonRe.MatchString(t) && !podRowRe.MatchString(t) && !podEventRe.MatchString(t) &&
			!nodeLowRe.MatchString(t) && !podStatusRe.MatchString(t) {
			continue
		}
		i = s.kubeBlock(i) - 1
	}
}

// kubeBlock gathers the pod fields around a trigger line: the describe
// section or status dump it belongs to.
func (s *scan) kubeBlock(i int) int {
	start, end := i, i+1
	for k := i - 1; k >= 0 && i-k <= 10 && s.free(k) && isKubeField(s.text(k)); k-- {
		start = k
	}
	for k := i + 1; k < s.n() && k-i <= 25 && s.free(k); k++ {
		t := s.text(k)
		if isBlank(t) {
			if k+1 < s.n() && isKubeField(s.text(k+1)) {
				continue
			}
			break
		}
		if !isKubeField(t) {
			break
		}
		end = k + 1
	}
	var text strings.Builder
	for k := start; k < end; k++ {
		text.WriteString(strings.TrimSpace(s.text(k)))
		text.WriteByte('\n')
	}
	c := &cand{Block: Block{Kind: KindKubernetes, Start: start, End: end}}
	kubeMessageDetails(c, text.String())
	reason := c.Details["reason"]
	if reason == "" {
		if m := podEventRe.FindStringSubmatch(text.String()); m != nil {
			reason = m[1]
			if reason == "OOMKilling" {
				reason = "OOMKilled"
			}
			c.detail("reason", reason)
			c.detail("message", m[2])
		}
	}
	if m := nodeLowRe.FindStringSubmatch(text.String()); m != nil {
		c.detail("resource", m[1])
		if reason == "" {
			reason = "Evicted"
			c.detail("reason", reason)
			c.detail("message", strings.TrimSpace(m[0]))
		}
	}
	if reason == "" {
		if !podStatusRe.MatchString(strings.TrimSpace(s.text(i))) {
			// Nothing in this window: skip it, so that each line is looked
			// at in one window only.
			return max(end, i+1)
		}
		reason = "Failed"
	}
	c.ExceptionType = reason
	c.Message = c.Details["message"]
	if c.Message == "" {
		c.Message = strings.TrimSpace(s.text(i))
		for k := start; k < end; k++ {
			if strings.Contains(s.text(k), reason) {
				c.Message = strings.TrimSpace(s.text(k))
				break
			}
		}
	}
	conf, ok := podReasonConfidence[reason]
	if !ok {
		conf = 0.55
	}
	c.Confidence = conf
	s.add(c)
	return end
}

func isKubeField(t string) bool {
	tt := strings.TrimSpace(t)
	return podFieldRe.MatchString(tt) || podReasonRe.MatchString(tt) || podExitRe.MatchString(tt) ||
		podRowRe.MatchString(tt) || strings.HasPrefix(tt, "NAME ") || podEventRe.MatchString(tt) ||
		strings.HasPrefix(tt, `"`) && strings.Contains(tt, `":`) || tt == "{" || tt == "}" || tt == "}," ||
		strings.HasPrefix(tt, "Type ") || strings.HasPrefix(tt, "----")
}

// kubeMessageDetails reads the pod reason, exit code and message from text.
func kubeMessageDetails(c *cand, text string) {
	reasons := map[string]bool{}
	for _, m := range podReasonRe.FindAllStringSubmatch(text, 16) {
		reasons[m[1]] = true
	}
	for _, m := range podRowRe.FindAllStringSubmatch(text, 4) {
		reasons[m[1]] = true
	}
	for _, r := range podReasons {
		if reasons[r] {
			c.detail("reason", r)
			break
		}
	}
	if m := podExitRe.FindStringSubmatch(text); m != nil {
		exitDetails(c, m[1])
	}
	if m := podMsgRe.FindStringSubmatch(text); m != nil {
		c.detail("message", strings.TrimSpace(m[1]))
	}
	if m := podNameRe.FindStringSubmatch(text); m != nil {
		c.detail("pod", m[1]+m[2])
	}
}
