// Package migrations holds the SQL migrations of the GES database, embedded
// into the binary and applied at start-up in file-name order.
package migrations

import "embed"

// FS holds the *.sql files.
//
//go:embed *.sql
var FS embed.FS
