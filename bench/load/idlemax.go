package load

import "syscall"

func init() {
	Scenarios = append(Scenarios, Scenario{Name: "idlemax", Desc: "idle conns at the open-file limit: server RSS per conn",
		Kind: KindIdle, Conns: -1, Size: 16})
}

// RaiseFileLimit lifts the process's soft open-file limit to the hard one, for a load, a
// server or a measurement that holds thousands of sockets, and returns how many connections
// the process can then hold (MaxConns).
func RaiseFileLimit() int {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return MaxConns()
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
