package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// RunPlugin runs a plugin written in Node.js: a policy pack (kind "analyzer") through the SDK's
// run-policy-pack entry point, anything else through run-plugin. The plugin's stdout (whose first
// line is its gRPC port), its stderr and finally its exit code are streamed to the engine.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	dir := programDir(req.GetInfo())
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return err
	}
	policyPack := req.GetKind() == "analyzer"
	entry := "@pulumi/pulumi/cmd/run-plugin"
	if policyPack {
		entry = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	script, err := resolveModule(ctx, dir, entry)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	send := func(response *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(response)
	}
	var stdout io.Writer = streamWriter(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: p}})
	})
	stderr := streamWriter(func(p []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: p}})
	})

	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	env = append(env, opts.env()...)

	args := append([]string{}, opts.nodeArgs...)
	args = append(args, script)
	// As upstream: a policy pack gets its folder last, any other plugin first.
	if policyPack {
		args = append(append(args, req.GetArgs()...), dir)
	} else {
		args = append(append(args, dir), req.GetArgs()...)
	}

	// A policy pack built on @pulumi/policy reads its stack, project, organization, dry-run flag and
	// config from the environment, as the engine's old analyzer shim set it. The engine now sends
	// them in a ConfigureStack call instead, so the SDK's proxy answers the engine first, waits for
	// that call and only then is the pack started with the environment it expects.
	var proxy *sdk.PolicyProxy
	if policyPack {
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		stackConfig, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration for the policy pack: %w", err)
		}
		packEnv, err := policyPackEnv(stackConfig)
		if err != nil {
			return err
		}
		env = append(env, packEnv...)
	}

	// As upstream: a policy pack runs in its own folder (it reads its package.json from there), any
	// other plugin in the engine's working directory.
	cwd := dir
	if !policyPack && req.GetPwd() != "" {
		cwd = req.GetPwd()
	}
	cmd, done := h.nodeCommand(ctx, cwd, args, env, stdout, stderr)
	defer done()
	if proxy != nil {
		if err = cmd.Start(); err == nil {
			err = proxy.Attach(ctx, cmd)
		}
	} else {
		err = cmd.Run()
	}
	code := int32(0)
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not run node for plugin %s: %w", dir, err)
		}
		code = int32(exitErr.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// policyPackEnv is the environment @pulumi/pulumi's runtime reads a policy pack's context from
// (pulumi.getStack(), getProject(), getOrganization(), runtime.isDryRun(), new pulumi.Config()).
// A nil request (the engine asked for something else first, e.g. `pulumi policy publish`) adds nothing.
func policyPackEnv(req *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	if req == nil {
		return nil, nil
	}
	var env []string
	for _, kv := range []struct{ key, value string }{
		{"PULUMI_NODEJS_STACK", req.GetStack()},
		{"PULUMI_NODEJS_PROJECT", req.GetProject()},
		{"PULUMI_NODEJS_ORGANIZATION", req.GetOrganization()},
	} {
		if kv.value != "" {
			env = append(env, kv.key+"="+kv.value)
		}
	}
	env = append(env, "PULUMI_NODEJS_DRY_RUN="+strconv.FormatBool(req.GetDryRun()))
	config, err := configEnv(req.GetConfig(), req.GetConfigSecretKeys())
	if err != nil {
		return nil, fmt.Errorf("could not pass the stack configuration to the policy pack: %w", err)
	}
	return append(env, config...), nil
}

// streamWriter adapts a send function to io.Writer; each write is copied before it is sent.
type streamWriter func([]byte) error

func (w streamWriter) Write(p []byte) (int, error) {
	if err := w(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
