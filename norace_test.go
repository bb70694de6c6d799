//go:build !race

package wsx

const raceEnabled = false
