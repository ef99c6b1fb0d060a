// Package ids generates and checks the UUIDs GES uses for callback ids and
// correlation ids. The published Java client parses both as java.util.UUID,
// so anything else would break it.
package ids

import (
	"github.com/google/uuid"
)

// New returns a random (version 4) UUID in canonical form.
func New() string { return uuid.NewString() }

// Valid reports whether s is a UUID in canonical 8-4-4-4-12 form.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
