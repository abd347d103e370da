//go:build !race

package redis

// raceEnabled says the tests run under the race detector, which makes every call several times
// slower: the Cluster fault suite lightens its load.
const raceEnabled = false
