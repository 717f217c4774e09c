package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func (h *host) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{Packages: providerPackages(programDir(req.GetInfo()))}, nil
}

func (h *host) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps := providerPackages(programDir(req.GetInfo()))
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.GetName(), Kind: d.GetKind(), Version: d.GetVersion(), Server: d.GetServer(),
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// packageJSON holds the parts of a package.json that name a Pulumi resource provider.
type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  *struct {
		Resource         bool   `json:"resource"`
		Name             string `json:"name"`
		Version          string `json:"version"`
		Server           string `json:"server"`
		Parameterization *struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Value   []byte `json:"value"`
		} `json:"parameterization"`
	} `json:"pulumi"`
}

// providerPackages lists the provider packages (package.json `pulumi.resource: true`) found, as
// upstream's host finds them, anywhere below dir inside a node_modules folder: nested copies such as
// node_modules/a/node_modules/@pulumi/random and workspace folders (sub/node_modules) included,
// symlinks followed once, policy packs (a folder with PulumiPolicy.yaml) left out because their
// plugins are not the program's. One deliberate difference: outside node_modules, hidden folders
// (.git, .pulumi-local, .local-cluster with its container images) are not walked.
// Unreadable or malformed package.json files are skipped: the engine still loads every provider
// the program actually registers.
func providerPackages(dir string) []*pulumirpc.PackageDependency {
	found := map[string]*pulumirpc.PackageDependency{}
	walkPackages(dir, false, map[string]bool{}, found)
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	deps := make([]*pulumirpc.PackageDependency, 0, len(keys))
	for _, k := range keys {
		deps = append(deps, found[k])
	}
	return deps
}

func walkPackages(dir string, inNodeModules bool, visited map[string]bool, found map[string]*pulumirpc.PackageDependency) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil || visited[real] {
		return
	}
	visited[real] = true
	if !inNodeModules && isPolicyPack(real) {
		return
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(real, e.Name())
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			st, err := os.Stat(path)
			if err != nil {
				continue
			}
			isDir = st.IsDir()
		}
		switch {
		case isDir && !inNodeModules && strings.HasPrefix(e.Name(), "."):
			continue
		case isDir:
			walkPackages(path, inNodeModules || filepath.Base(dir) == "node_modules", visited, found)
		case inNodeModules && e.Name() == "package.json":
			if dep := readProviderPackage(path); dep != nil {
				found[dep.GetName()+"@"+dep.GetVersion()+"@"+dep.GetServer()] = dep
			}
		}
	}
}

func isPolicyPack(dir string) bool {
	for _, name := range []string{"PulumiPolicy.yaml", "PulumiPolicy.yml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// readProviderPackage returns the plugin a package.json names, or nil. Naming as upstream: the
// `pulumi.name`, else the package name without the @pulumi/ scope (a third-party package must set
// `pulumi.name`); the `pulumi.version`, else the package version, with a leading "v".
func readProviderPackage(path string) *pulumirpc.PackageDependency {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pkg packageJSON
	if json.Unmarshal(raw, &pkg) != nil || pkg.Pulumi == nil || !pkg.Pulumi.Resource {
		return nil
	}
	name := pkg.Pulumi.Name
	if name == "" {
		if !strings.HasPrefix(pkg.Name, "@pulumi/") {
			return nil
		}
		name = strings.TrimPrefix(pkg.Name, "@pulumi/")
	}
	ver := pkg.Pulumi.Version
	if ver == "" {
		ver = pkg.Version
	}
	if ver == "" {
		return nil
	}
	if !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	dep := &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: ver, Server: pkg.Pulumi.Server}
	if p := pkg.Pulumi.Parameterization; p != nil {
		dep.Parameterization = &pulumirpc.PackageParameterization{Name: p.Name, Version: p.Version, Value: p.Value}
	}
	return dep
}
