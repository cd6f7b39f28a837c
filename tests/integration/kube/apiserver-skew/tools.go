//go:build tools

// Package tools records the upstream main package that build-skew.sh compiles,
// so that `go mod tidy` keeps its dependencies in go.mod and go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
