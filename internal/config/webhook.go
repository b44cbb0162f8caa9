package config

import (
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// NotifyWebhook posts each update of each incident as signed JSON to a URL.
type NotifyWebhook struct {
	// Name is unique; deliveries are recorded under "webhook:<name>".
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Secret, when set, signs each body (X-Medic-Signature: sha256=...).
	Secret  Secret        `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"`
}

var webhookName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func validateWebhooks(v *validator, hooks []NotifyWebhook) {
	seen := map[string]bool{}
	for i, h := range hooks {
		p := fmt.Sprintf("notify.webhooks[%d]", i)
		if !webhookName.MatchString(h.Name) {
			v.add(p+".name", "want lower-case letters, digits, _ and -, got %q", h.Name)
		} else if seen[h.Name] {
			v.add(p+".name", "%q is used twice", h.Name)
		}
		seen[h.Name] = true
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add(p+".url", "want an absolute http:// or https:// URL, got %q", h.URL)
		}
		if h.Timeout < 0 {
			v.add(p+".timeout", "must not be negative, got %s", h.Timeout)
		}
	}
}
