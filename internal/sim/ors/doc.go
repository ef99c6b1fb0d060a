// Package ors simulates the Orchestration Server side of a callback: it
// consumes the session-start entries GES writes to the Voice Redis stream,
// plays each one as an SCXML callback session would (reporting QUEUED,
// ROUTING, PROCESSING and COMPLETED back to GES over GES' internal API), and
// serves the ORS session HTTP API GES calls to terminate or query a session.
package ors
