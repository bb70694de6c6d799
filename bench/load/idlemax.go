package load

import "syscall"

func init() {
	Scenarios = append(Scenarios, Scenario{Name: "idlemax", Desc: "idle conns at the open-file limit: server RSS per conn",
		Kind: KindIdle, Conns: -1, Size: 16})
}

// MaxConns returns how many connections a process can hold at its open-file limit, keeping a
// hundred descriptors for everything else. The load generator and the server each have their
// own limit.
func MaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1000
	}
	return int(min(rl.Cur, 1<<22)) - 100
}
