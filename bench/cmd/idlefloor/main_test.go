package main

import (
	"os"
	"testing"
)

// The test binary is also the child that holds the clients.
func TestMain(m *testing.M) {
	if addr := os.Getenv(dialEnv); addr != "" {
		holdClients(addr)
		return
	}
	os.Exit(m.Run())
}

// Every connection holds a goroutine parked in Read, whose stack is at least the 2 KiB a
// goroutine starts with; what else the process holds depends on the machine, so only its
// presence is checked.
func TestMeasureFloor(t *testing.T) {
	per, err := measureFloor(300)
	if err != nil {
		t.Fatal(err)
	}
	if per.stack < 2048*9/10 || per.heap <= 0 || per.rss <= 0 {
		t.Fatalf("per connection: %+v; want a 2 KiB stack, some heap and some RSS", per)
	}
}
