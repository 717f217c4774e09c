package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProviderPackagesFindsNestedAndSkipsWhatUpstreamSkips(t *testing.T) {
	root := t.TempDir()
	nm := filepath.Join(root, "node_modules")
	writeFile(t, filepath.Join(nm, "@pulumi/random/package.json"),
		`{"name":"@pulumi/random","version":"4.21.2","pulumi":{"resource":true}}`)
	// npm nests a second version under the package that needs it.
	writeFile(t, filepath.Join(nm, "some-lib/node_modules/@pulumi/kubernetes/package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.25.0","pulumi":{"resource":true,"server":"https://example.invalid"}}`)
	// A workspace folder with its own node_modules.
	writeFile(t, filepath.Join(root, "packages/infra/node_modules/@acme/widgets/package.json"),
		`{"name":"@acme/widgets","version":"1.2.3","pulumi":{"resource":true,"name":"widgets","version":"1.3.0"}}`)
	// Not providers: no pulumi block, resource false, third party without pulumi.name, the SDK itself.
	writeFile(t, filepath.Join(nm, "left-pad/package.json"), `{"name":"left-pad","version":"1.0.0"}`)
	writeFile(t, filepath.Join(nm, "@pulumi/pulumi/package.json"), `{"name":"@pulumi/pulumi","version":"3.248.0"}`)
	writeFile(t, filepath.Join(nm, "@pulumi/policy/package.json"),
		`{"name":"@pulumi/policy","version":"1.21.0","pulumi":{"resource":false}}`)
	writeFile(t, filepath.Join(nm, "@other/thing/package.json"),
		`{"name":"@other/thing","version":"1.0.0","pulumi":{"resource":true}}`)
	writeFile(t, filepath.Join(nm, "broken/package.json"), `{not json`)
	// A policy pack's plugins are not the program's.
	writeFile(t, filepath.Join(root, "policy/PulumiPolicy.yaml"), "runtime: nodejs\n")
	writeFile(t, filepath.Join(root, "policy/node_modules/@pulumi/aws/package.json"),
		`{"name":"@pulumi/aws","version":"7.0.0","pulumi":{"resource":true}}`)
	// Hidden folders outside node_modules (state, cluster data) are not walked.
	writeFile(t, filepath.Join(root, ".local-cluster/node_modules/@pulumi/gcp/package.json"),
		`{"name":"@pulumi/gcp","version":"9.0.0","pulumi":{"resource":true}}`)
	// A symlink loop must not hang the walk.
	if err := os.Symlink(root, filepath.Join(nm, "some-lib", "loop")); err != nil {
		t.Fatal(err)
	}

	got := map[string]string{}
	for _, d := range providerPackages(root) {
		got[d.GetName()] = d.GetVersion() + " " + d.GetServer()
		if d.GetKind() != "resource" {
			t.Errorf("%s: kind %q", d.GetName(), d.GetKind())
		}
	}
	want := map[string]string{
		"random":     "v4.21.2 ",
		"kubernetes": "v4.25.0 https://example.invalid",
		"widgets":    "v1.3.0 ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestProviderPackagesFollowsASymlinkedNodeModules(t *testing.T) {
	shared := t.TempDir()
	writeFile(t, filepath.Join(shared, "node_modules/@pulumi/random/package.json"),
		`{"name":"@pulumi/random","version":"4.21.2","pulumi":{"resource":true}}`)
	program := t.TempDir()
	if err := os.Symlink(filepath.Join(shared, "node_modules"), filepath.Join(program, "node_modules")); err != nil {
		t.Fatal(err)
	}
	deps := providerPackages(program)
	if len(deps) != 1 || deps[0].GetName() != "random" {
		t.Fatalf("got %v, want random only", deps)
	}
}
