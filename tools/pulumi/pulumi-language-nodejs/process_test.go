package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// startNodeThenCancel starts node on a script that prints "ready" once its SIGINT handler is set, waits for
// that, then cancels the host as the engine does. It returns node's command, its output and when the cancel
// was sent; the command's resources are released when the test ends.
func startNodeThenCancel(t *testing.T, script string) (*exec.Cmd, *lockedBuffer, time.Time) {
	t.Helper()
	h := newHost()
	out := &lockedBuffer{}
	cmd, done := h.nodeCommand(context.Background(), t.TempDir(), []string{"-e", script}, nil, out, out)
	t.Cleanup(done)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "ready")
	start := time.Now()
	h.cancel()
	return cmd, out, start
}

// A cancel interrupts node, lets a SIGINT handler finish its cleanup, and only then returns.
func TestCancelInterruptsNodeAndWaitsForItsCleanup(t *testing.T) {
	cmd, out, start := startNodeThenCancel(t, `process.on("SIGINT", () => setTimeout(() => { console.log("cleaned up"); process.exit(0); }, 500));
console.log("ready"); setInterval(() => {}, 1000);`)
	// exec reports the cancel (context.Canceled) even when node exits 0 from its handler.
	if err := cmd.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("node should exit 0 from its SIGINT handler, got %v (output %q)", err, out.String())
	}
	if !strings.Contains(out.String(), "cleaned up") {
		t.Fatalf("the SIGINT handler did not run to its end: %q", out.String())
	}
	if elapsed := time.Since(start); elapsed > interruptGrace {
		t.Fatalf("took %v, more than the grace period", elapsed)
	}
}

// A node that ignores SIGINT is killed once the grace period is over.
func TestCancelKillsNodeAfterTheGracePeriod(t *testing.T) {
	cmd, out, start := startNodeThenCancel(t, `process.on("SIGINT", () => console.log("ignoring SIGINT")); console.log("ready"); setInterval(() => {}, 1000);`)
	if err := cmd.Wait(); err == nil {
		t.Fatal("node ignored SIGINT and still exited cleanly")
	}
	elapsed := time.Since(start)
	if elapsed < interruptGrace || elapsed > interruptGrace+3*time.Second {
		t.Fatalf("killed after %v, want about %v", elapsed, interruptGrace)
	}
	if !strings.Contains(out.String(), "ignoring SIGINT") {
		t.Fatalf("node was not interrupted before it was killed: %q", out.String())
	}
}

func waitFor(t *testing.T, out *lockedBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("node did not print %q: %q", text, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer is written by exec's copying goroutines while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOOMWatcherFindsAMarkerSplitAcrossWrites(t *testing.T) {
	var out bytes.Buffer
	w := &oomWatcher{out: &out}
	for _, chunk := range []string{"some output\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript he", "ap out of memory\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if !w.outOfMemory() {
		t.Fatal("the split marker was not found")
	}
	if !strings.Contains(out.String(), "JavaScript heap out of memory") {
		t.Fatalf("stderr was not passed through: %q", out.String())
	}
	quiet := &oomWatcher{out: &out}
	_, _ = quiet.Write([]byte("Error: something else\n"))
	if quiet.outOfMemory() {
		t.Fatal("an ordinary error was taken for running out of memory")
	}
}
