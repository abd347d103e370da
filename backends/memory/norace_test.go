//go:build !race

package memory

// raceEnabled says the tests run under the race detector, which makes long traces slow.
const raceEnabled = false
