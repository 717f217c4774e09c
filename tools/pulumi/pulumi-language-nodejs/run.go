package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// exitCodeUserActionable is what @pulumi/pulumi's run entry point exits with after it has already
// reported an error to the engine: the host must then bail without adding a message.
const exitCodeUserActionable = 32

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := programDir(req.GetInfo())
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	runScript, err := resolveModule(ctx, dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	entry, err := typeScriptEntry(dir, req.GetInfo().GetEntryPoint(), opts)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	var program *compiledProgram
	if entry != "" {
		program, err = h.compileProgram(ctx, dir, entry, opts)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		defer program.release()
		// The compiled JavaScript runs as it is: node loads neither TypeScript nor ts-node.
		opts.typescript = false
		opts.entry = program.entry
	}
	env, err := runEnv(req, opts)
	if err != nil {
		return nil, err
	}
	if program != nil {
		env = withNodeCompileCache(env, program.nodeCache)
	}

	stderr := &oomWatcher{out: os.Stderr}
	cmd, done := h.nodeCommand(ctx, dir, runArgs(req, opts, runScript, h.engineAddress, h.tracing), env,
		os.Stdout, stderr)
	defer done()
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case h.cancelled.Err() != nil || ctx.Err() != nil:
		return &pulumirpc.RunResponse{Error: "the program was interrupted: the update was cancelled"}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitCodeUserActionable:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		message := fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode())
		if stderr.outOfMemory() {
			message += ". " + oomHint
		}
		return &pulumirpc.RunResponse{Error: message}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
}

// runArgs is node's command line: node's own arguments (runtime option nodeargs), then the SDK's
// run entry point with the flags it reads, the program and the program's arguments.
func runArgs(req *pulumirpc.RunRequest, opts nodeOptions, runScript, engine, tracing string) []string {
	args := append([]string{}, opts.nodeArgs...)
	args = append(args, runScript,
		"--monitor="+req.GetMonitorAddress(),
		"--project="+req.GetProject(),
		"--stack="+req.GetStack(),
		"--pwd="+req.GetPwd(),
	)
	optional := []struct{ flag, value string }{
		{"engine", engine},
		{"organization", req.GetOrganization()},
		{"root-directory", req.GetInfo().GetRootDirectory()},
		{"tracing", tracing},
	}
	for _, o := range optional {
		if o.value != "" {
			args = append(args, "--"+o.flag+"="+o.value)
		}
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 1 {
		args = append(args, "--parallel="+strconv.Itoa(int(req.GetParallel())))
	}
	entry := opts.entry
	if entry == "" {
		entry = req.GetInfo().GetEntryPoint()
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// runEnv passes the stack's configuration the way @pulumi/pulumi reads it: PULUMI_CONFIG (a JSON
// object of "project:key" -> value) and PULUMI_CONFIG_SECRET_KEYS (a JSON array), plus what the
// runtime options ask for.
func runEnv(req *pulumirpc.RunRequest, opts nodeOptions) ([]string, error) {
	config, err := configEnv(req.GetConfig(), req.GetConfigSecretKeys())
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), config...)
	return append(env, opts.env()...), nil
}

func configEnv(config map[string]string, secretKeys []string) ([]string, error) {
	if config == nil {
		config = map[string]string{}
	}
	if secretKeys == nil {
		secretKeys = []string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretsJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	return []string{"PULUMI_CONFIG=" + string(configJSON), "PULUMI_CONFIG_SECRET_KEYS=" + string(secretsJSON)}, nil
}
