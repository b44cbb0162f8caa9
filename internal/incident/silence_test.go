package incident_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
)

var silenceStart = time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)

func validSilence() *incident.Silence {
	return &incident.Silence{
		Matcher: incident.SilenceMatcher{DagGlob: "finance_*"}, Reason: "warehouse migration", CreatedBy: "oncall",
		StartsAt: silenceStart, EndsAt: silenceStart.Add(2 * time.Hour),
	}
}

func TestSilenceValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(s *incident.Silence)
		message string // "" when valid
	}{
		{name: "valid", edit: func(*incident.Silence) {}},
		{name: "every dag", edit: func(s *incident.Silence) { s.Matcher.DagGlob = "*" }},
		{name: "thirty days", edit: func(s *incident.Silence) { s.EndsAt = s.StartsAt.Add(incident.MaxSilenceDuration) }},
		{name: "severity", edit: func(s *incident.Silence) { s.Matcher.Severity = incident.SeverityHigh }},
		{name: "no glob", edit: func(s *incident.Silence) { s.Matcher.DagGlob = " " }, message: `glob is required: use "*"`},
		{name: "bad glob", edit: func(s *incident.Silence) { s.Matcher.DagGlob = "finance_[" }, message: "not a valid pattern"},
		{name: "unknown severity", edit: func(s *incident.Silence) { s.Matcher.Severity = "urgent" }, message: `severity "urgent" is unknown`},
		{name: "no reason", edit: func(s *incident.Silence) { s.Reason = "" }, message: "reason is required"},
		{name: "no creator", edit: func(s *incident.Silence) { s.CreatedBy = "" }, message: "creator is required"},
		{name: "no end", edit: func(s *incident.Silence) { s.EndsAt = time.Time{} }, message: "start and end are required"},
		{name: "ends at start", edit: func(s *incident.Silence) { s.EndsAt = s.StartsAt }, message: "not after it starts"},
		{name: "ends before start", edit: func(s *incident.Silence) { s.EndsAt = s.StartsAt.Add(-time.Hour) }, message: "not after it starts"},
		{
			name: "too long", edit: func(s *incident.Silence) { s.EndsAt = s.StartsAt.Add(incident.MaxSilenceDuration + time.Second) },
			message: "longer than 720h0m0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validSilence()
			tt.edit(s)
			err := s.Validate()
			if tt.message == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, incident.ErrInvalid)
			require.ErrorContains(t, err, tt.message)
		})
	}
}

func TestSilenceMatches(t *testing.T) {
	t.Parallel()
	expired := silenceStart.Add(time.Hour)
	inc := &incident.Incident{Instance: "main", DagID: "finance_reporting", Severity: incident.SeverityMedium}
	tests := []struct {
		name    string
		matcher incident.SilenceMatcher
		expired *time.Time
		inc     func(in incident.Incident) incident.Incident
		at      time.Duration // after silenceStart
		want    bool
	}{
		{name: "glob matches", matcher: incident.SilenceMatcher{DagGlob: "finance_*"}, at: time.Minute, want: true},
		{name: "star matches all", matcher: incident.SilenceMatcher{DagGlob: "*"}, at: time.Minute, want: true},
		{name: "other dag", matcher: incident.SilenceMatcher{DagGlob: "orders_*"}, at: time.Minute},
		{name: "glob is whole id", matcher: incident.SilenceMatcher{DagGlob: "finance"}, at: time.Minute},
		{name: "at start", matcher: incident.SilenceMatcher{DagGlob: "*"}, at: 0, want: true},
		{name: "before start", matcher: incident.SilenceMatcher{DagGlob: "*"}, at: -time.Second},
		{name: "at end", matcher: incident.SilenceMatcher{DagGlob: "*"}, at: 2 * time.Hour},
		{name: "before expiry", matcher: incident.SilenceMatcher{DagGlob: "*"}, expired: &expired, at: 59 * time.Minute, want: true},
		{name: "after expiry", matcher: incident.SilenceMatcher{DagGlob: "*"}, expired: &expired, at: time.Hour},
		{name: "same instance", matcher: incident.SilenceMatcher{DagGlob: "*", Instance: "main"}, at: time.Minute, want: true},
		{name: "other instance", matcher: incident.SilenceMatcher{DagGlob: "*", Instance: "prod"}, at: time.Minute},
		{name: "at severity", matcher: incident.SilenceMatcher{DagGlob: "*", Severity: incident.SeverityMedium}, at: time.Minute, want: true},
		{name: "below severity", matcher: incident.SilenceMatcher{DagGlob: "*", Severity: incident.SeverityCritical}, at: time.Minute, want: true},
		{name: "above severity", matcher: incident.SilenceMatcher{DagGlob: "*", Severity: incident.SeverityLow}, at: time.Minute},
		{
			name: "unknown severity is not held", matcher: incident.SilenceMatcher{DagGlob: "*", Severity: incident.SeverityCritical},
			inc: func(in incident.Incident) incident.Incident { in.Severity = ""; return in }, at: time.Minute,
		},
		{
			name: "unknown severity without a limit", matcher: incident.SilenceMatcher{DagGlob: "*"},
			inc: func(in incident.Incident) incident.Incident { in.Severity = ""; return in }, at: time.Minute, want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validSilence()
			s.Matcher, s.ExpiredAt = tt.matcher, tt.expired
			in := *inc
			if tt.inc != nil {
				in = tt.inc(in)
			}
			require.Equal(t, tt.want, s.Matches(&in, silenceStart.Add(tt.at)))
		})
	}
	require.False(t, validSilence().Matches(nil, silenceStart), "no incident, no match")
}
