//go:build race

package testenv

// raceEnabled makes Binaries build the servers with -race when the tests
// themselves run with -race, so data races inside ges and gessim fail the
// end-to-end tests too.
const raceEnabled = true
