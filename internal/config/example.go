package config

import _ "embed" // for example.yaml

//go:embed example.yaml
var example string

// Example returns a complete, commented medic.yaml that shows every key with
// its default. It references two environment variables for its secrets,
// MEDIC_ADMIN_TOKEN and AIRFLOW_PROD_PASSWORD, and it parses and validates
// (tests hold it to that, and to naming every key).
func Example() string { return example }
