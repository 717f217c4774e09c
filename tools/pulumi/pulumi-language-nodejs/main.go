// Command pulumi-language-nodejs is a small Node.js language host for the Pulumi engine.
//
// Why our own: the upstream host is a separate Go module that the module proxy reachable here does
// not serve at any version (see docs/toolchain.md). This host implements only what `pulumi
// preview/up/destroy` and the Automation API need to run a Node.js or TypeScript program:
//
//   - Run: starts `node <@pulumi/pulumi>/cmd/run` in the program directory with the flags and
//     environment that the SDK's run entry point reads (the same contract as upstream).
//   - GetRequiredPackages/GetRequiredPlugins: lists the provider packages installed in node_modules
//     (package.json "pulumi" block), like upstream.
//   - GetPluginInfo: reports the version set at link time (-X main.version=...).
//   - RunPlugin: runs a policy pack (analyzer) with the SDK's run-policy-pack entry point, or a
//     Node.js provider with run-plugin, streaming its output back to the engine.
//
// TypeScript: like upstream, the runtime option `typescript` (default true) sets
// PULUMI_NODEJS_TYPESCRIPT, which tells the SDK's run entry point to register ts-node.
//
// Everything else (templates, codegen, dependency installs) answers Unimplemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags "-X main.version=<semver>"; it must match the CLI's version.
var version = "0.0.0-dev"

// exitCodeUserActionable is what @pulumi/pulumi's run entry point exits with after it has already
// reported an error to the engine: the host must then bail without adding a message.
const exitCodeUserActionable = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
	nodeArgs      []string
}

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version)
		return
	}
	h, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(2)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	// Exit when the engine goes away, as upstream hosts do.
	if h.engineAddress != "" {
		go func() {
			_ = rpcutil.Healthcheck(ctx, h.engineAddress, 5*time.Minute, cancel)
		}()
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

// parseArgs accepts the engine's command line: `[-flag[=value]]... [engineAddress]`. Flags that this
// host has no use for (typescript, tsconfig, packagemanager, root, ...) are accepted and ignored:
// the SDK's run entry point decides about TypeScript by itself.
func parseArgs(args []string) (*host, error) {
	h := &host{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			h.engineAddress = arg
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "tracing", "nodeargs":
			if !hasValue {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("flag -%s needs a value", name)
				}
				i++
				value = args[i]
			}
			if name == "tracing" {
				h.tracing = value
			} else {
				h.nodeArgs = strings.Fields(value)
			}
		}
	}
	return h, nil
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := providerPackages(programDir(req.GetInfo()))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *host) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := providerPackages(programDir(req.GetInfo()))
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.GetName(), Kind: d.GetKind(), Version: d.GetVersion(), Server: d.GetServer(),
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

func programDir(info *pulumirpc.ProgramInfo) string {
	if info != nil && info.GetProgramDirectory() != "" {
		return info.GetProgramDirectory()
	}
	wd, _ := os.Getwd()
	return wd
}

// packageJSON holds the parts of a package.json that name a Pulumi resource provider.
type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  *struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

// providerPackages lists the provider packages in the node_modules folder nearest to dir (the
// program's own folder or one of its parents, as Node resolves modules).
func providerPackages(dir string) ([]*pulumirpc.PackageDependency, error) {
	modules := ""
	for d := dir; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, "node_modules")); err == nil && st.IsDir() {
			modules = filepath.Join(d, "node_modules")
			break
		}
		if filepath.Dir(d) == d {
			return nil, nil
		}
	}
	var candidates []string
	entries, err := os.ReadDir(modules)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", modules, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "@") {
			scoped, _ := os.ReadDir(filepath.Join(modules, e.Name()))
			for _, s := range scoped {
				candidates = append(candidates, filepath.Join(modules, e.Name(), s.Name()))
			}
			continue
		}
		candidates = append(candidates, filepath.Join(modules, e.Name()))
	}
	sort.Strings(candidates)

	var deps []*pulumirpc.PackageDependency
	for _, pkgDir := range candidates {
		raw, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
		if err != nil {
			continue
		}
		var pkg packageJSON
		if json.Unmarshal(raw, &pkg) != nil || pkg.Pulumi == nil || !pkg.Pulumi.Resource {
			continue
		}
		name := pkg.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(pkg.Name, "@pulumi/")
		}
		ver := pkg.Pulumi.Version
		if ver == "" {
			ver = pkg.Version
		}
		if ver != "" && !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Name: name, Kind: "resource", Version: ver, Server: pkg.Pulumi.Server,
		})
	}
	return deps, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := programDir(req.GetInfo())
	runScript, err := resolveModule(ctx, dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := append([]string{}, h.nodeArgs...)
	args = append(args, runScript,
		"--monitor="+req.GetMonitorAddress(),
		"--project="+req.GetProject(),
		"--stack="+req.GetStack(),
		"--pwd="+req.GetPwd(),
	)
	if h.engineAddress != "" {
		args = append(args, "--engine="+h.engineAddress)
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization="+req.GetOrganization())
	}
	if req.GetInfo().GetRootDirectory() != "" {
		args = append(args, "--root-directory="+req.GetInfo().GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 1 {
		args = append(args, "--parallel="+strconv.Itoa(int(req.GetParallel())))
	}
	if h.tracing != "" {
		args = append(args, "--tracing="+h.tracing)
	}
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	env, err := runEnv(req)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitCodeUserActionable:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
}

// runEnv passes the stack's configuration the way @pulumi/pulumi reads it: PULUMI_CONFIG (a JSON
// object of "project:key" -> value) and PULUMI_CONFIG_SECRET_KEYS (a JSON array).
func runEnv(req *pulumirpc.RunRequest) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretsJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	return append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretsJSON),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typeScriptEnabled(req.GetInfo())),
	), nil
}

// typeScriptEnabled reads the runtime option `typescript` of Pulumi.yaml; upstream's default is true.
func typeScriptEnabled(info *pulumirpc.ProgramInfo) bool {
	if info == nil || info.GetOptions() == nil {
		return true
	}
	if value, ok := info.GetOptions().GetFields()["typescript"]; ok {
		return value.GetBoolValue()
	}
	return true
}

// RunPlugin runs a plugin written in Node.js: a policy pack (kind "analyzer") through the SDK's
// run-policy-pack entry point, anything else through run-plugin. The plugin's stdout (whose first
// line is its gRPC port), its stderr and finally its exit code are streamed to the engine.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	dir := programDir(req.GetInfo())
	entry := "@pulumi/pulumi/cmd/run-plugin"
	if req.GetKind() == "analyzer" {
		entry = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	script, err := resolveModule(ctx, dir, entry)
	if err != nil {
		return err
	}
	args := append([]string{}, h.nodeArgs...)
	args = append(args, script)
	args = append(args, req.GetArgs()...)
	args = append(args, dir)

	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	// The plugin's own folder, not the engine's: a policy pack reads its package.json from there.
	cmd.Dir = dir
	cmd.Env = append(env, "PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typeScriptEnabled(req.GetInfo())))
	var mu sync.Mutex
	send := func(response *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(response)
	}
	cmd.Stdout = streamWriter(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: p}})
	})
	cmd.Stderr = streamWriter(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: p}})
	})
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not run node for plugin %s: %w", dir, err)
		}
		code = int32(exitErr.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// streamWriter adapts a send function to io.Writer; each write is copied before it is sent.
type streamWriter func([]byte) error

func (w streamWriter) Write(p []byte) (int, error) {
	if err := w(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
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
			"could not find @pulumi/pulumi from %s (run `npm ci` there; is `node` on PATH?): %v", dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}
