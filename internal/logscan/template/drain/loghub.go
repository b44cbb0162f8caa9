package drain

// loghubSettings are logparser's Drain benchmark settings
// (logparser/Drain/benchmark.py at commit db272234), tuned per Loghub data
// set. They belong to the baseline only: medic's own miner must work with one
// configuration for every system.
var loghubSettings = map[string]Config{
	"HDFS":        {Depth: 4, ST: 0.5, Regexes: []string{`blk_-?\d+`, `(\d+\.){3}\d+(:\d+)?`}},
	"Hadoop":      {Depth: 4, ST: 0.5, Regexes: []string{`(\d+\.){3}\d+`}},
	"Spark":       {Depth: 4, ST: 0.5, Regexes: []string{`(\d+\.){3}\d+`, `\b[KGTM]?B\b`, `([\w-]+\.){2,}[\w-]+`}},
	"Zookeeper":   {Depth: 4, ST: 0.5, Regexes: []string{`(/|)(\d+\.){3}\d+(:\d+)?`}},
	"BGL":         {Depth: 4, ST: 0.5, Regexes: []string{`core\.\d+`}},
	"HPC":         {Depth: 4, ST: 0.5, Regexes: []string{`=\d+`}},
	"Thunderbird": {Depth: 4, ST: 0.5, Regexes: []string{`(\d+\.){3}\d+`}},
	"Windows":     {Depth: 5, ST: 0.7, Regexes: []string{`0x.*?\s`}},
	"Linux":       {Depth: 6, ST: 0.39, Regexes: []string{`(\d+\.){3}\d+`, `\d{2}:\d{2}:\d{2}`}},
	"Android": {Depth: 6, ST: 0.2, Regexes: []string{
		`(/[\w-]+)+`,
		`([\w-]+\.){2,}[\w-]+`,
		`\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b`,
	}},
	"HealthApp": {Depth: 4, ST: 0.2},
	"Apache":    {Depth: 4, ST: 0.5, Regexes: []string{`(\d+\.){3}\d+`}},
	"Proxifier": {Depth: 3, ST: 0.6, Regexes: []string{
		`<\d+\ssec`,
		`([\w-]+\.)+[\w-]+(:\d+)?`,
		`\d{2}:\d{2}(:\d{2})*`,
		`[KGTM]B`,
	}},
	"OpenSSH":   {Depth: 5, ST: 0.6, Regexes: []string{`(\d+\.){3}\d+`, `([\w-]+\.){2,}[\w-]+`}},
	"OpenStack": {Depth: 5, ST: 0.5, Regexes: []string{`((\d+\.){3}\d+,?)+`, `/.+?\s`, `\d+`}},
	"Mac":       {Depth: 6, ST: 0.7, Regexes: []string{`([\w-]+\.){2,}[\w-]+`}},
}

// LoghubConfig returns the benchmark settings logparser uses for the named
// Loghub system, with maxChild 100. For a system it does not know it returns
// DefaultConfig and false, so a new data set still gets a baseline run
// (untuned, which the caller should say when reporting it).
func LoghubConfig(system string) (Config, bool) {
	c, ok := loghubSettings[system]
	if !ok {
		return DefaultConfig(), false
	}
	c.MaxChild = 100
	c.Regexes = append([]string(nil), c.Regexes...)
	return c, true
}
