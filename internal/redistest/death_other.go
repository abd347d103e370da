//go:build !linux

package redistest

import "os/exec"

// setDeathSignal does nothing where the kernel cannot kill a child with its parent: a test process
// that dies without running its cleanups leaves its servers running.
func setDeathSignal(*exec.Cmd) {}
