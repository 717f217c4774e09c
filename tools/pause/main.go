// Command pause is the sandbox process of every pod on the local cluster's real node: it holds the
// pod's namespaces open and does nothing else. The upstream pause image lives in a registry that this
// project cannot reach, so the node runs this one (scripts/cluster-node.sh wraps it in an image).
//
// As PID 1 of the pod's PID namespace (when the pod shares one) it must reap orphaned children, and it
// must exit promptly on SIGTERM or SIGINT so that a sandbox stops without waiting for SIGKILL.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reapChildren()
	}
}

// reapChildren collects every exited child without blocking; one SIGCHLD may stand for several exits.
func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
