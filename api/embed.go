// Package api holds the OpenAPI 3 documents of both ports, embedded so the
// binary serves the contract it implements.
package api

import "embed"

// FS holds external.yaml and internal.yaml.
//
//go:embed *.yaml
var FS embed.FS
