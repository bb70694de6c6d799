package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

// cpuMask is a Linux cpu_set_t for up to 1024 CPUs.
type cpuMask [16]uint64

// setAffinity pins thread tid (0: the calling thread) to cpu with sched_setaffinity(2).
func setAffinity(tid, cpu int) error {
	var m cpuMask
	m[cpu/64] |= 1 << (cpu % 64)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return e
	}
	return nil
}

// pinSelf pins every thread of this process to cpu and runs Go on one P. Threads created
// later inherit the mask; the loop catches threads started while it runs.
func pinSelf(cpu int) error {
	runtime.GOMAXPROCS(1)
	done := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		fresh := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			fresh = true
			done[tid] = true
			if err := setAffinity(tid, cpu); err != nil && err != syscall.ESRCH {
				return err
			}
		}
		if !fresh {
			return nil
		}
	}
}

// startPinned starts cmd so that the new process begins life pinned to cpu: the fork happens
// on a thread temporarily pinned there, and the child inherits the mask, so the Go runtime in
// the child sees one CPU from its first instruction (GOMAXPROCS=1, one nbio poller, ...).
// cpu < 0 starts cmd unpinned.
func startPinned(cmd *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old cpuMask
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(old), uintptr(unsafe.Pointer(&old))); e != 0 {
		return e
	}
	if err := setAffinity(0, cpu); err != nil {
		return err
	}
	err := cmd.Start()
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(old), uintptr(unsafe.Pointer(&old))); e != 0 && err == nil {
		err = e
	}
	return err
}
