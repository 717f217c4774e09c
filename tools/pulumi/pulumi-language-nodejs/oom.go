package main

import (
	"bytes"
	"io"
	"sync"
)

// oomMarkers are what V8 prints to stderr when node runs out of heap.
var oomMarkers = [][]byte{[]byte("<--- Last few GCs --->"), []byte("JavaScript heap out of memory")}

// oomHint is added to the error of a program that ran out of memory: the fix is a runtime option.
const oomHint = "node ran out of memory; give it more heap with the runtime option in Pulumi.yaml: " +
	"`runtime: {name: nodejs, options: {nodeargs: \"--max-old-space-size=<MiB>\"}}`"

// oomWatcher passes node's stderr through and remembers whether V8 reported running out of heap.
type oomWatcher struct {
	out  io.Writer
	mu   sync.Mutex
	tail []byte
	seen bool
}

func (w *oomWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	if !w.seen {
		// Keep the end of the previous write so that a marker split across writes is still found.
		window := append(w.tail, p...)
		for _, marker := range oomMarkers {
			if bytes.Contains(window, marker) {
				w.seen = true
			}
		}
		keep := min(len(window), 64)
		w.tail = append([]byte(nil), window[len(window)-keep:]...)
	}
	w.mu.Unlock()
	return w.out.Write(p)
}

func (w *oomWatcher) outOfMemory() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}
