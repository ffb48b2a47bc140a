//go:build race

package watcher

// raceEnabled: the race detector multiplies memory and time, so memory
// measurements are skipped under it.
const raceEnabled = true
