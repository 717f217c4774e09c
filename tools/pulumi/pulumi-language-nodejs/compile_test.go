package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTypeScriptEntryCompilesOnlyCommonJSTypeScriptPrograms(t *testing.T) {
	cases := []struct {
		name       string
		files      map[string]string
		entryPoint string
		opts       nodeOptions
		want       string
	}{
		{"package.json main", map[string]string{"package.json": `{"main": "index.ts"}`, "index.ts": ""}, ".", nodeOptions{typescript: true}, "index.ts"},
		{"Pulumi.yaml main, a folder", map[string]string{"src/index.ts": ""}, "src", nodeOptions{typescript: true}, "src/index.ts"},
		{"no package.json: the folder's index.ts", map[string]string{"index.ts": ""}, ".", nodeOptions{typescript: true}, "index.ts"},
		{"typescript: false", map[string]string{"index.ts": ""}, "index.ts", nodeOptions{}, ""},
		{"a JavaScript entry point", map[string]string{"package.json": `{"main": "bin/index.js"}`, "bin/index.js": ""}, ".", nodeOptions{typescript: true}, ""},
		{"an ES module package", map[string]string{"package.json": `{"type": "module", "main": "index.ts"}`, "index.ts": ""}, ".", nodeOptions{typescript: true}, ""},
		{"a missing entry point (the SDK reports it)", map[string]string{"package.json": `{"main": "gone.ts"}`}, ".", nodeOptions{typescript: true}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTree(t, c.files)
			got, err := typeScriptEntry(dir, c.entryPoint, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if c.want != "" {
				want = filepath.Join(dir, c.want)
			}
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestTypeScriptEntryNamesABrokenPackageJSON(t *testing.T) {
	dir := writeTree(t, map[string]string{"package.json": `{"main": `})
	_, err := typeScriptEntry(dir, ".", nodeOptions{typescript: true})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "package.json")) {
		t.Fatalf("got %v, want an error naming package.json", err)
	}
}

func TestCompileConfigStartsFromTheEntryAndEmitsIntoTheCache(t *testing.T) {
	dir := writeTree(t, map[string]string{"tsconfig.json": "{}", "index.ts": ""})
	entry := filepath.Join(dir, "index.ts")
	var config struct {
		Extends         string         `json:"extends"`
		Files           []string       `json:"files"`
		Include         []string       `json:"include"`
		CompilerOptions map[string]any `json:"compilerOptions"`
	}
	data, err := compileConfig(dir, entry, filepath.Join(dir, "tsconfig.json"), "/cache/out", "/cache/info")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &config); err != nil {
		t.Fatal(err)
	}
	if config.Extends != filepath.Join(dir, "tsconfig.json") || !reflect.DeepEqual(config.Files, []string{entry}) ||
		len(config.Include) != 0 {
		t.Fatalf("roots: got %+v", config)
	}
	for key, want := range map[string]any{"outDir": "/cache/out", "rootDir": dir, "noEmit": false, "noEmitOnError": true} {
		if config.CompilerOptions[key] != want {
			t.Fatalf("compilerOptions.%s: got %v, want %v", key, config.CompilerOptions[key], want)
		}
	}
	if _, set := config.CompilerOptions["module"]; set {
		t.Fatal("with a tsconfig, the module setting is the program's own")
	}

	data, err = compileConfig(dir, entry, filepath.Join(dir, "missing.json"), "/cache/out", "/cache/info")
	if err != nil {
		t.Fatal(err)
	}
	config.Extends = ""
	if err := json.Unmarshal(data, &config); err != nil {
		t.Fatal(err)
	}
	if config.Extends != "" || config.CompilerOptions["module"] != "nodenext" {
		t.Fatalf("without a tsconfig: ts-node's defaults, got %+v", config)
	}
}

func TestSplitListFilesKeepsDiagnosticsApart(t *testing.T) {
	dir := writeTree(t, map[string]string{"index.ts": ""})
	index := filepath.Join(dir, "index.ts")
	files, diagnostics := splitListFiles("index.ts(1,7): error TS2322: Type 'number' is not assignable to type 'string'.\n" +
		index + "\n/no/such/file.ts\n")
	if !reflect.DeepEqual(files, []string{index}) {
		t.Fatalf("files: got %q", files)
	}
	want := "index.ts(1,7): error TS2322: Type 'number' is not assignable to type 'string'.\n/no/such/file.ts"
	if diagnostics != want {
		t.Fatalf("diagnostics: got %q, want %q", diagnostics, want)
	}
}

func TestConfigChainFollowsLocalExtends(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"tsconfig.json":           `{ "extends": "./config/base", "compilerOptions": {} }`,
		"config/base.json":        `{ "extends": "@tsconfig/node24/tsconfig.json" }`,
		"tsconfig.unrelated.json": "{}",
	})
	got := configChain(filepath.Join(dir, "tsconfig.json"))
	want := []string{filepath.Join(dir, "tsconfig.json"), filepath.Join(dir, "config", "base.json")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		writeFile(t, filepath.Join(dir, name), text)
	}
	return dir
}

func TestPruneOrphansRemovesOnlyCompilesOfProgramsThatAreGone(t *testing.T) {
	caches := t.TempDir()
	live := t.TempDir()
	writeFile(t, filepath.Join(caches, "live", "program"), live)
	writeFile(t, filepath.Join(caches, "gone", "program"), filepath.Join(live, "removed-copy"))
	writeFile(t, filepath.Join(caches, "unknown", "out", "index.js"), "")
	pruneOrphans(caches)
	for name, want := range map[string]bool{"live": true, "gone": false, "unknown": true} {
		if _, err := os.Stat(filepath.Join(caches, name)); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", name, err == nil, want)
		}
	}
}

func TestNodeCompileCacheIsOnUnlessTheEnvironmentNamesOne(t *testing.T) {
	env := withNodeCompileCache([]string{"PATH=/bin"}, "/p/cache/node")
	if want := []string{"PATH=/bin", "NODE_COMPILE_CACHE=/p/cache/node"}; !reflect.DeepEqual(env, want) {
		t.Errorf("default: got %q, want %q", env, want)
	}
	own := []string{"NODE_COMPILE_CACHE=/mine", "PATH=/bin"}
	if env := withNodeCompileCache(own, "/p/cache/node"); !reflect.DeepEqual(env, own) {
		t.Errorf("the user's own cache: got %q, want it kept as %q", env, own)
	}
}
