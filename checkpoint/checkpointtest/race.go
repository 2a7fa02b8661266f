//go:build race

package checkpointtest

// raceEnabled: the race detector slows the Many test tenfold, and it hunts
// concurrency bugs, not scale ones.
const raceEnabled = true
