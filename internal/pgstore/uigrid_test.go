package pgstore

import "testing"

func TestGridOrderBy(t *testing.T) {
	for sort, want := range map[string]string{
		"":         "desired_time DESC, id DESC",
		"-desired": "desired_time DESC, id DESC",
		"phone":    "phone ASC, id ASC",
		"-updated": "updated_at DESC, id DESC",
		// Anything else never reaches the SQL.
		"id; DROP TABLE callbacks": "desired_time DESC, id DESC",
		"-":                        "desired_time DESC, id DESC",
	} {
		if got := orderBy(sort); got != want {
			t.Errorf("orderBy(%q) = %q, want %q", sort, got, want)
		}
	}
}
