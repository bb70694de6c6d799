package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// coreBusy returns the time core cpu has spent not idle, in microseconds, from /proc/stat
// (USER_HZ ticks, 100 per second on Linux). Together with the server's own CPU time it tells
// how much of the server's core other processes took during a run.
func coreBusy(cpu int) (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	prefix := fmt.Sprintf("cpu%d ", cpu)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		var busy int64
		for i, f := range strings.Fields(line)[1:] {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, err
			}
			// user nice system idle iowait irq softirq steal guest guest_nice: guest
			// time is already counted in user.
			if i != 3 && i != 4 && i < 8 {
				busy += v
			}
		}
		return busy * 1e6 / 100, nil
	}
	return 0, fmt.Errorf("no %s in /proc/stat", strings.TrimSpace(prefix))
}
