package owners

import (
	"fmt"

	"github.com/medic-sh/medic/internal/incident"
)

// affected is one thing the failure touches, for the severity rule.
type affected struct {
	what     string // "exposure exposure.shop.dash", "task load"
	failed   bool   // a failed dbt model rather than something downstream
	tier     Tier
	exposure bool
}

// says renders the item for a reason: "tier1 model x is downstream".
func (a affected) says() string {
	if a.failed {
		return fmt.Sprintf("%s %s failed", a.tier, a.what)
	}
	return fmt.Sprintf("%s %s is downstream", a.tier, a.what)
}

// severityOf applies the severity rule, first match wins ("the asset" is
// the failed task, with the merged owner's tier; "a tier-N item is
// downstream" counts the failed dbt models too):
//
//	critical  a tier-1 exposure is downstream, or the asset is tier 1 and
//	          a tier-1 item or more than broad items are downstream
//	high      the asset is tier 1, a tier-1 item is downstream, or more
//	          than broad items are downstream
//	medium    the asset is tier 2, a tier-2 item or any exposure is
//	          downstream, or no source gives the asset a tier
//	low       otherwise: a tier-3 asset with only tier-3 or untiered,
//	          non-exposure items downstream, at most broad of them
func severityOf(res *Result, broad int) (incident.Severity, string) {
	var items []affected
	for _, fm := range res.Models {
		items = append(items, affected{what: "model " + fm.UniqueID, failed: true, tier: fm.Tier})
	}
	for _, t := range res.Impact.Tasks {
		items = append(items, affected{what: "task " + t.TaskID, tier: t.Tier})
	}
	for _, n := range res.Impact.Models {
		items = append(items, affected{what: n.Kind + " " + n.UniqueID, tier: n.Tier})
	}
	for _, e := range res.Impact.Exposures {
		items = append(items, affected{what: "exposure " + e.UniqueID, tier: e.Tier, exposure: true})
	}
	find := func(ok func(affected) bool) (affected, bool) {
		for _, it := range items {
			if ok(it) {
				return it, true
			}
		}
		return affected{}, false
	}
	asset := res.Owner.Tier
	assetSays := fmt.Sprintf("the failed task is %s (from %s)", asset, res.OwnerFrom[FieldTier])
	count := res.Impact.Count()
	isBroad := count > broad
	broadSays := fmt.Sprintf("%d items are downstream (more than %d)", count, broad)
	t1, hasT1 := find(func(a affected) bool { return a.tier == Tier1 })

	if e, ok := find(func(a affected) bool { return a.exposure && a.tier == Tier1 }); ok {
		return incident.SeverityCritical, "critical: " + e.says()
	}
	if asset == Tier1 && hasT1 {
		return incident.SeverityCritical, fmt.Sprintf("critical: %s and %s", assetSays, t1.says())
	}
	if asset == Tier1 && isBroad {
		return incident.SeverityCritical, fmt.Sprintf("critical: %s and %s", assetSays, broadSays)
	}
	switch {
	case asset == Tier1:
		return incident.SeverityHigh, "high: " + assetSays
	case hasT1:
		return incident.SeverityHigh, "high: " + t1.says()
	case isBroad:
		return incident.SeverityHigh, "high: " + broadSays
	case asset == Tier2:
		return incident.SeverityMedium, "medium: " + assetSays
	}
	if t2, ok := find(func(a affected) bool { return a.tier == Tier2 }); ok {
		return incident.SeverityMedium, "medium: " + t2.says()
	}
	if e, ok := find(func(a affected) bool { return a.exposure }); ok {
		return incident.SeverityMedium, fmt.Sprintf("medium: %s is downstream", e.what)
	}
	if asset == TierUnknown {
		return incident.SeverityMedium, "medium: no source gives the failed task a tier"
	}
	return incident.SeverityLow, fmt.Sprintf("low: %s, with nothing of tier 1 or 2, no exposure and %d item(s) downstream", assetSays, count)
}
