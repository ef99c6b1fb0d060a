// Package testenv starts the real infrastructure and the real binaries that
// end-to-end tests run against: private redis-server and PostgreSQL instances
// on free loopback ports in temporary directories, the gessim simulated
// Genesys platform, and one or more GES nodes.
//
// Nothing here ever talks to a Redis or PostgreSQL that it did not start
// itself, and nothing reuses state from an earlier run: every instance lives in
// a fresh temporary directory and listens on a port reserved for this process.
//
// Test packages that use SharedPostgres (directly or through NewStack) must
// install the process hook:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// The package targets Linux (Debian): it relies on flock, process groups and
// the parent-death signal so that a crashed or interrupted test binary leaves
// no server behind.
package testenv
