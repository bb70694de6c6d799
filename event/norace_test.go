//go:build !race && !js

package event

const raceEnabled = false
