//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// shellCommand returns the command line of --exec run by the shell, in a process group of
// its own, so that killCommand reaches the processes it starts too.
func shellCommand(line string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// killCommand kills a started shellCommand and its process group.
func killCommand(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
