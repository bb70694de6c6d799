package main

import "testing"

// measure opens, measures and closes what it was asked for; the figures themselves depend on
// what else the machine does, so only their presence is checked.
func TestMeasure(t *testing.T) {
	r, err := measure(200)
	if err != nil {
		t.Fatal(err)
	}
	if r.conns != 200 {
		t.Fatalf("measured %d connections, want 200", r.conns)
	}
}
