// Command pulumi-language-nodejs is a small Node.js language host for the Pulumi engine.
//
// Why our own: the upstream host is a separate Go module that the module proxy reachable here does
// not serve at any version (see docs/toolchain.md). This host follows upstream's contract for what a
// `pulumi preview/up/destroy/import/about` user meets:
//
//   - Run (run.go): starts `node [nodeargs] <@pulumi/pulumi>/cmd/run` in the program directory with the
//     flags and environment that the SDK's run entry point reads; a TypeScript program is type-checked
//     and compiled by its own tsc only when its sources changed, and its JavaScript runs (compile.go,
//     where upstream's ts-node type-checks it on every run); node's output goes through pipes;
//     a cancel interrupts node and gives it a grace period before it is killed; running out of heap
//     is reported with the runtime option that fixes it (oom.go).
//   - RunPlugin (plugin.go): policy packs through run-policy-pack, told the stack, project,
//     organization, dry-run flag and config through the SDK's policy proxy; other plugins through
//     run-plugin.
//   - GetRequiredPackages/GetRequiredPlugins (packages.go): provider packages anywhere under the
//     program's node_modules, nested ones included.
//   - About, GetProgramDependencies (about.go) and GenerateProgram (codegen.go, for `pulumi import`).
//
// InstallDependencies answers with a message that says to run npm itself; templates and package
// codegen answer Unimplemented.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags "-X main.version=<semver>"; it must match the CLI's version.
var version = "0.0.0-dev"

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	tracing       string
	// cancelled ends every node process this host started (interrupt, grace period, kill): on the
	// engine's Cancel call or on a SIGINT/SIGTERM sent to this host.
	cancelled context.Context
	cancel    context.CancelFunc
}

func newHost() *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{cancelled: ctx, cancel: cancel}
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

	// The engine stops its plugins with SIGINT to their process group (node is in ours), waits 5 s,
	// then kills. Catching the signal keeps this host alive for that grace period, so node's output
	// is still relayed and a Run in flight returns its result instead of vanishing with the host.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	serving, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	stop := make(chan bool)
	go func() {
		select {
		case <-signals:
		case <-serving.Done():
		}
		h.cancel()
		close(stop)
	}()
	// Exit when the engine goes away, as upstream hosts do.
	if h.engineAddress != "" {
		go func() {
			_ = rpcutil.Healthcheck(serving, h.engineAddress, 5*time.Minute, stopServing)
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

// parseArgs accepts the engine's command line: `[-flag[=value]]... [engineAddress]`. Runtime options
// (typescript, tsconfig, nodeargs, packagemanager) reach the host in each request's ProgramInfo, so
// flags other than -tracing are accepted and ignored.
func parseArgs(args []string) (*host, error) {
	h := newHost()
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			h.engineAddress = arg
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if name != "tracing" {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag -%s needs a value", name)
			}
			i++
			value = args[i]
		}
		h.tracing = value
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

// Cancel is the engine's request to stop gracefully (sent before it closes the plugin): every node
// process of this host gets SIGINT and the grace period.
func (h *host) Cancel(context.Context, *pbempty.Empty) (*pbempty.Empty, error) {
	h.cancel()
	return &pbempty.Empty{}, nil
}

func programDir(info *pulumirpc.ProgramInfo) string {
	if info != nil && info.GetProgramDirectory() != "" {
		return info.GetProgramDirectory()
	}
	wd, _ := os.Getwd()
	return wd
}
