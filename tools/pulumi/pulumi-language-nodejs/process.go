package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// interruptGrace is how long node has to exit after SIGINT before it is killed: upstream's host and
// the engine (which kills a plugin 5 s after interrupting it) use the same figure.
const interruptGrace = 5 * time.Second

// nodeCommand prepares `node args...` in dir. It ends when ctx ends or the host is cancelled: first
// SIGINT, then SIGKILL after interruptGrace. stdout and stderr are wrapped so that exec gives node
// pipes of its own and copies them: node may switch a descriptor it is handed to non-blocking mode,
// which would break the host's own writes to the same descriptor (upstream's reason, too), and
// pipes let the host relay everything node wrote before Run returns.
func (h *host) nodeCommand(
	ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer,
) (*exec.Cmd, context.CancelFunc) {
	cmdCtx, cancel := context.WithCancel(ctx)
	stopWithHost := context.AfterFunc(h.cancelled, cancel)
	cmd := exec.CommandContext(cmdCtx, "node", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = struct{ io.Writer }{stdout}
	cmd.Stderr = struct{ io.Writer }{stderr}
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = interruptGrace
	return cmd, func() {
		stopWithHost()
		cancel()
	}
}

// resolveModule finds one of @pulumi/pulumi's entry points the way Node would from the program's
// folder, so the program's own copy of the SDK runs it.
func resolveModule(ctx context.Context, dir string, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "node", "-e",
		"process.stdout.write(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf(
			"could not find %s from %s (run `npm ci` there; is `node` on PATH?): %v", module, dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}
