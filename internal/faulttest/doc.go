// Package faulttest injects faults into a running three-node GES under load
// and checks the promise of a 200: every acknowledged callback is handed to
// ORS exactly once per attempt and finishes, nothing refused is ever dialled,
// ORS never plays two sessions of one callback at once, and Postgres and
// Redis agree once the dust settles.
//
// The short suite runs with the other tests; the full one (longer outages,
// higher rate, every fault) runs with
//
//	go test -race -count=1 -timeout 30m -v ./internal/faulttest/ -chaos
//
// or with GES_CHAOS=full in the environment (make chaos).
package faulttest
