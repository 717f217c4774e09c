//go:build tools

// Package checkers pins the Go-built manifest checkers that scripts/checkers-tools.sh installs.
// The blank import keeps kube-score (and its exact dependency versions) in go.mod / go.sum, so
// `go build github.com/zegl/kube-score/cmd/kube-score` is reproducible from this module.
package checkers

import (
	_ "github.com/zegl/kube-score/cmd/kube-score"
)
