//go:build !unix

package main

import "os/exec"

// shellCommand returns the command line of --exec run by the shell.
func shellCommand(line string) *exec.Cmd {
	return exec.Command("cmd", "/C", line)
}

// killCommand kills a started shellCommand.
func killCommand(cmd *exec.Cmd) {
	cmd.Process.Kill()
}
