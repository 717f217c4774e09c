package main

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func programInfo(t *testing.T, options map[string]any) *pulumirpc.ProgramInfo {
	t.Helper()
	s, err := structpb.NewStruct(options)
	if err != nil {
		t.Fatal(err)
	}
	return &pulumirpc.ProgramInfo{ProgramDirectory: t.TempDir(), Options: s}
}

func TestParseOptionsDefaults(t *testing.T) {
	opts, err := parseOptions(programInfo(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !opts.typescript || opts.tsconfig != "" || len(opts.nodeArgs) != 0 {
		t.Fatalf("defaults: got %+v, want typescript on, no tsconfig, no node args", opts)
	}
	if got := opts.env(); !reflect.DeepEqual(got, []string{"PULUMI_NODEJS_TYPESCRIPT=true"}) {
		t.Fatalf("env: got %v", got)
	}
}

func TestParseOptionsHonoursEveryOption(t *testing.T) {
	opts, err := parseOptions(programInfo(t, map[string]any{
		"typescript": false,
		"tsconfig":   "tsconfig.pulumi.json",
		"nodeargs":   `--max-old-space-size=4096 --title "api stack"`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--max-old-space-size=4096", "--title", "api stack"}; !reflect.DeepEqual(opts.nodeArgs, want) {
		t.Fatalf("nodeargs: got %q, want %q", opts.nodeArgs, want)
	}
	want := []string{"PULUMI_NODEJS_TYPESCRIPT=false", "PULUMI_NODEJS_TSCONFIG_PATH=tsconfig.pulumi.json"}
	if got := opts.env(); !reflect.DeepEqual(got, want) {
		t.Fatalf("env: got %v, want %v", got, want)
	}
}

func TestParseOptionsRejectsWrongTypes(t *testing.T) {
	cases := []struct {
		options map[string]any
		want    []string
	}{
		{map[string]any{"typescript": "yes"}, []string{"runtime.options.typescript", `"yes"`, "true or false"}},
		{map[string]any{"tsconfig": 3.0}, []string{"runtime.options.tsconfig", "3", "string"}},
		{map[string]any{"nodeargs": true}, []string{"runtime.options.nodeargs", "true", "string"}},
		{map[string]any{"nodeargs": `--title "unterminated`}, []string{"runtime.options.nodeargs", "unterminated"}},
	}
	for _, c := range cases {
		_, err := parseOptions(programInfo(t, c.options))
		if err == nil {
			t.Fatalf("%v: accepted", c.options)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", c.options, err, w)
			}
		}
	}
}

func TestRunArgsPutNodeArgsBeforeTheRunScript(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:1", Project: "p", Stack: "s", Pwd: "/w", DryRun: true, Parallel: 4,
		Organization: "org", Info: &pulumirpc.ProgramInfo{EntryPoint: "main.ts", RootDirectory: "/r"},
	}
	got := runArgs(req, nodeOptions{nodeArgs: []string{"--inspect=0"}}, "/sdk/cmd/run", "127.0.0.1:2", "")
	want := []string{
		"--inspect=0", "/sdk/cmd/run", "--monitor=127.0.0.1:1", "--project=p", "--stack=s", "--pwd=/w",
		"--engine=127.0.0.1:2", "--organization=org", "--root-directory=/r", "--dry-run", "--parallel=4", "main.ts",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestRunArgsRunTheCompiledEntryInsteadOfTheSources(t *testing.T) {
	req := &pulumirpc.RunRequest{Pwd: "/w", Info: &pulumirpc.ProgramInfo{EntryPoint: "."}}
	got := runArgs(req, nodeOptions{entry: "/w/node_modules/.cache/x/out/index.js"}, "/sdk/cmd/run", "", "")
	if last := got[len(got)-1]; last != "/w/node_modules/.cache/x/out/index.js" {
		t.Fatalf("entry: got %q in %q", last, got)
	}
}

func TestPolicyPackEnv(t *testing.T) {
	env, err := policyPackEnv(&pulumirpc.AnalyzerStackConfigureRequest{
		Stack: "prod", Project: "api-stack", Organization: "organization", DryRun: true,
		Config: map[string]string{"api-stack:apiReplicas": "3"}, ConfigSecretKeys: []string{"api-stack:pw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PULUMI_NODEJS_STACK=prod", "PULUMI_NODEJS_PROJECT=api-stack", "PULUMI_NODEJS_ORGANIZATION=organization",
		"PULUMI_NODEJS_DRY_RUN=true", `PULUMI_CONFIG={"api-stack:apiReplicas":"3"}`,
		`PULUMI_CONFIG_SECRET_KEYS=["api-stack:pw"]`,
	}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("got  %q\nwant %q", env, want)
	}
	if env, _ := policyPackEnv(nil); env != nil {
		t.Fatalf("no configuration must add nothing, got %q", env)
	}
}
