package main

import (
	"fmt"
	"strconv"

	"github.com/google/shlex"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// nodeOptions are the `runtime.options` of Pulumi.yaml (or PulumiPolicy.yaml) that this host honours,
// with upstream's names, types and defaults.
type nodeOptions struct {
	// typescript: the SDK registers ts-node (PULUMI_NODEJS_TYPESCRIPT). Default true.
	typescript bool
	// tsconfig: the tsconfig file ts-node uses, relative to the program (PULUMI_NODEJS_TSCONFIG_PATH).
	tsconfig string
	// nodeargs: extra arguments for node itself, split like a shell would (e.g. `--max-old-space-size=4096`).
	nodeArgs []string
	// entry, when set, replaces the program's entry point: the JavaScript this host compiled (compile.go).
	entry string
}

// parseOptions reads the runtime options; a value of the wrong type is an error that names the key,
// the value given and what is allowed. Options this host has no use for (packagemanager) are ignored.
func parseOptions(info *pulumirpc.ProgramInfo) (nodeOptions, error) {
	opts := nodeOptions{typescript: true}
	fields := info.GetOptions().GetFields()
	if value, ok := fields["typescript"]; ok {
		b, isBool := value.AsInterface().(bool)
		if !isBool {
			return opts, optionError("typescript", value.AsInterface(), "true or false")
		}
		opts.typescript = b
	}
	if value, ok := fields["tsconfig"]; ok {
		s, isString := value.AsInterface().(string)
		if !isString {
			return opts, optionError("tsconfig", value.AsInterface(), "a path to a tsconfig file, as a string")
		}
		opts.tsconfig = s
	}
	if value, ok := fields["nodeargs"]; ok {
		s, isString := value.AsInterface().(string)
		if !isString {
			return opts, optionError("nodeargs", value.AsInterface(), "a string of node arguments")
		}
		args, err := shlex.Split(s)
		if err != nil {
			return opts, optionError("nodeargs", s, "arguments split like a shell would ("+err.Error()+")")
		}
		opts.nodeArgs = args
	}
	return opts, nil
}

func optionError(key string, value any, allowed string) error {
	return fmt.Errorf("Pulumi.yaml runtime.options.%s: got %#v; allowed: %s", key, value, allowed)
}

// env is what the SDK's entry points read from these options.
func (o nodeOptions) env() []string {
	env := []string{"PULUMI_NODEJS_TYPESCRIPT=" + strconv.FormatBool(o.typescript)}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}
