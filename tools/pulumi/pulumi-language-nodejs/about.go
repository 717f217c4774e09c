package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// About answers `pulumi about`: which node runs programs, and the package manager (npm, the only
// one this project uses).
func (h *host) About(ctx context.Context, _ *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not on PATH: %w", err)
	}
	// Side by side: the engine waits for this answer before every preview and update, and npm alone
	// takes about 0.1 s to print its version.
	npmVersion := make(chan string, 1)
	go func() { npmVersion <- commandOutput(ctx, "npm", "--version") }()
	nodeVersion := commandOutput(ctx, node, "--version")
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    nodeVersion,
		Metadata: map[string]string{
			"packagemanager":        "npm",
			"packagemanagerVersion": <-npmVersion,
		},
	}, nil
}

// commandOutput is the trimmed stdout of a command, or "" when it fails: a version string that
// cannot be read must not fail `pulumi about`.
func commandOutput(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// GetProgramDependencies lists the program's npm dependencies with the versions installed: the
// direct ones (package.json dependencies and devDependencies, resolved from node_modules as Node
// would), or every package of package-lock.json when transitive ones are asked for.
func (h *host) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := programDir(req.GetInfo())
	var deps map[string]string
	var err error
	if req.GetTransitiveDependencies() {
		deps, err = lockedPackages(dir)
	} else {
		deps, err = directDependencies(dir)
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(deps))
	for name := range deps {
		names = append(names, name)
	}
	sort.Strings(names)
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, name := range names {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: name, Version: deps[name]})
	}
	return resp, nil
}

func directDependencies(dir string) (map[string]string, error) {
	var manifest struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := readJSON(filepath.Join(dir, "package.json"), &manifest); err != nil {
		return nil, err
	}
	deps := map[string]string{}
	for _, group := range []map[string]string{manifest.Dependencies, manifest.DevDependencies} {
		for name, wanted := range group {
			deps[name] = installedVersion(dir, name, wanted)
		}
	}
	return deps, nil
}

// installedVersion is the version in the nearest node_modules/<name>, or what package.json asks
// for when the package is not installed.
func installedVersion(dir, name, wanted string) string {
	for d := dir; ; d = filepath.Dir(d) {
		var pkg struct {
			Version string `json:"version"`
		}
		if readJSON(filepath.Join(d, "node_modules", name, "package.json"), &pkg) == nil && pkg.Version != "" {
			return pkg.Version
		}
		if filepath.Dir(d) == d {
			return wanted
		}
	}
}

func lockedPackages(dir string) (map[string]string, error) {
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := readJSON(filepath.Join(dir, "package-lock.json"), &lock); err != nil {
		return nil, err
	}
	deps := map[string]string{}
	for path, pkg := range lock.Packages {
		i := strings.LastIndex(path, "node_modules/")
		if i < 0 || pkg.Version == "" {
			continue
		}
		deps[path[i+len("node_modules/"):]] = pkg.Version
	}
	return deps, nil
}

func readJSON(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// InstallDependencies (`pulumi install`, `pulumi new`) is refused with what to do instead: this
// offline host does not run a package manager on the user's behalf.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, _ pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	return status.Errorf(codes.Unimplemented,
		"the offline Node.js language host (tools/pulumi/pulumi-language-nodejs) does not install "+
			"dependencies: run `npm ci` in %s yourself; the provider plugins are registered by `npm run toolchain`",
		programDir(req.GetInfo()))
}
