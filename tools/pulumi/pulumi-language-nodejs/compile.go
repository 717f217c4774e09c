package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Type-check once, not on every run. Upstream's SDK runs a TypeScript program through ts-node,
// which type-checks it on every preview and update (seconds of CPU), although the program has not
// changed since the last run. This host compiles it with the program's own tsc (type check and
// emit) into a cache folder when its sources changed since the last compile, and otherwise runs
// the JavaScript it compiled then; node starts without loading TypeScript at all. A program that
// does not compile is still refused before any of it runs, with tsc's messages.
//
// The cache is node_modules/.cache/pulumi-language-nodejs/<hash of the program folder>: inside the
// program's node_modules, so that the compiled modules resolve the program's packages, and per
// folder, so that copies of a program sharing one node_modules do not share a compile.
//
// Not compiled here (ts-node runs them, as upstream): programs with `typescript: false`, whose entry
// point is not a .ts file, or whose package.json says "type": "module" (the compiled files would
// sit outside the package scope that makes them ES modules).

// compileTimeout bounds one tsc run: a cold type check of a large program takes a minute on a slow machine.
const compileTimeout = 10 * time.Minute

// compiledProgram is a compile this host made, held (shared lock) until the run that uses it ends.
type compiledProgram struct {
	entry string
	// nodeCache is node's compile cache for the runs of this program (see withNodeCompileCache).
	nodeCache string
	lock      *os.File
}

func (c *compiledProgram) release() {
	if c != nil {
		_ = c.lock.Close()
	}
}

// typeScriptEntry is the .ts file that the program starts from, or "" when this host does not
// compile the program (see above).
func typeScriptEntry(dir, entryPoint string, opts nodeOptions) (string, error) {
	if !opts.typescript {
		return "", nil
	}
	var pkg struct {
		Main string `json:"main"`
		Type string `json:"type"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
		if err := json.Unmarshal(data, &pkg); err != nil {
			return "", fmt.Errorf("%s: %w", filepath.Join(dir, "package.json"), err)
		}
	}
	if pkg.Type == "module" {
		return "", nil
	}
	entry := entryPoint
	if entry == "" || entry == "." {
		entry = pkg.Main
	}
	entry = filepath.Join(dir, entry)
	if info, err := os.Stat(entry); err == nil && info.IsDir() {
		entry = filepath.Join(entry, "index.ts")
	}
	if !strings.HasSuffix(entry, ".ts") || strings.HasSuffix(entry, ".d.ts") {
		return "", nil
	}
	if _, err := os.Stat(entry); err != nil {
		return "", nil
	}
	return entry, nil
}

// compileProgram compiles the program that starts at `entry` unless the last compile is current,
// and returns the compiled entry point, held until release. A type error is returned as tsc printed it.
func (h *host) compileProgram(ctx context.Context, dir, entry string, opts nodeOptions) (*compiledProgram, error) {
	sum := sha256.Sum256([]byte(dir))
	caches := filepath.Join(dir, "node_modules", ".cache", "pulumi-language-nodejs")
	cache := filepath.Join(caches, hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("could not create the compile cache %s: %w", cache, err)
	}
	if err := os.WriteFile(filepath.Join(cache, "program"), []byte(dir), 0o644); err != nil {
		return nil, err
	}
	pruneOrphans(caches)
	lock, err := os.OpenFile(filepath.Join(cache, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	// One compile at a time per program; a run holds the shared lock so that no compile rewrites
	// the modules it is loading.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		_ = lock.Close()
		return nil, err
	}
	program := &compiledProgram{lock: lock, nodeCache: filepath.Join(cache, "node")}
	if err := h.compileIfStale(ctx, dir, entry, cache, opts, program); err != nil {
		program.release()
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
		program.release()
		return nil, err
	}
	return program, nil
}

func (h *host) compileIfStale(
	ctx context.Context, dir, entry, cache string, opts nodeOptions, program *compiledProgram,
) error {
	tsconfig := filepath.Join(dir, "tsconfig.json")
	if opts.tsconfig != "" {
		tsconfig = filepath.Join(dir, opts.tsconfig)
	}
	out := filepath.Join(cache, "out")
	config, err := compileConfig(dir, entry, tsconfig, out, filepath.Join(cache, "tsbuildinfo"))
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, entry)
	if err != nil {
		return err
	}
	program.entry = filepath.Join(out, strings.TrimSuffix(rel, ".ts")+".js")
	configFile := filepath.Join(cache, "tsconfig.json")
	settings := string(config)
	stampFile := filepath.Join(cache, "stamp.json")
	if current(stampFile, settings) {
		if _, err := os.Stat(program.entry); err == nil {
			return nil
		}
	}
	_ = os.Remove(stampFile)
	tsc, err := resolveModule(ctx, dir, "typescript/bin/tsc")
	if err != nil {
		return fmt.Errorf("a TypeScript program needs the typescript package: %w", err)
	}
	if err := os.WriteFile(configFile, config, 0o644); err != nil {
		return err
	}

	start := time.Now()
	compileCtx, cancel := context.WithTimeout(ctx, compileTimeout)
	defer cancel()
	var output bytes.Buffer
	cmd, done := h.nodeCommand(compileCtx, dir, []string{tsc, "-p", configFile, "--listFiles", "--pretty", "false"},
		withNodeCompileCache(os.Environ(), program.nodeCache), &output, &output)
	defer done()
	runErr := cmd.Run()
	files, diagnostics := splitListFiles(output.String())
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
	case h.cancelled.Err() != nil || ctx.Err() != nil:
		return errors.New("the program was interrupted: the update was cancelled")
	case errors.As(runErr, &exitErr) && diagnostics != "":
		return fmt.Errorf("the program does not compile, so nothing of it ran; tsc says:\n%s", diagnostics)
	default:
		return fmt.Errorf("could not type-check the program with %s: %v\n%s", tsc, runErr, diagnostics)
	}
	files = append(files, configChain(tsconfig)...)
	files = append(files, filepath.Join(dir, "package.json"))
	// An install adds or removes a package (another tsc, new @types) and so changes these folders.
	installed := []string{filepath.Join(dir, "node_modules"), filepath.Join(dir, "node_modules", "@types")}
	s, err := makeStamp(settings, dir, append(files, tsc), installed, start)
	if errors.Is(err, errChangedDuringCompile) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.write(stampFile)
}

// withNodeCompileCache turns on node's on-disk compile cache (Node.js >= 22.1; older releases ignore
// the variable) in dir, unless the environment already names one. Compiling the modules a program
// loads (@pulumi/pulumi, the providers' SDKs, grpc, protobuf) took about 0.5 s of CPU on every
// preview and update, a quarter of a no-op preview here; node checks each entry against the
// module's source and its own version, so a stale entry is recompiled, never run. The cache sits
// beside the compiled program and goes with it (pruneOrphans). NODE_DISABLE_COMPILE_CACHE=1 turns
// it off, as node documents.
func withNodeCompileCache(env []string, dir string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "NODE_COMPILE_CACHE=") {
			return env
		}
	}
	return append(env, "NODE_COMPILE_CACHE="+dir)
}

// pruneOrphans removes the compiles of programs whose folder is gone (copies of a program that share
// its node_modules, as tests make them), so that the caches do not pile up.
func pruneOrphans(caches string) {
	entries, err := os.ReadDir(caches)
	if err != nil {
		return
	}
	for _, entry := range entries {
		program, err := os.ReadFile(filepath.Join(caches, entry.Name(), "program"))
		if err != nil {
			continue
		}
		if _, err := os.Stat(string(program)); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(filepath.Join(caches, entry.Name()))
		}
	}
}

// compileConfig is the tsconfig of a compile: the program's own (when it has one) with its entry
// point as the only root, as ts-node would start from it, and the output redirected into the cache.
func compileConfig(dir, entry, tsconfig, outDir, buildInfo string) ([]byte, error) {
	compilerOptions := map[string]any{
		"noEmit":              false,
		"noEmitOnError":       true,
		"outDir":              outDir,
		"rootDir":             dir,
		"incremental":         true,
		"tsBuildInfoFile":     buildInfo,
		"composite":           false,
		"declaration":         false,
		"declarationMap":      false,
		"emitDeclarationOnly": false,
		// Stack traces point at the .ts sources: the SDK enables source maps for the program.
		"sourceMap":       true,
		"inlineSourceMap": false,
	}
	config := map[string]any{"files": []string{entry}, "include": []string{}, "compilerOptions": compilerOptions}
	if _, err := os.Stat(tsconfig); err == nil {
		config["extends"] = tsconfig
	} else {
		// ts-node's settings when a program has no tsconfig (the SDK's run entry point).
		compilerOptions["target"] = "ES2020"
		compilerOptions["module"] = "nodenext"
		compilerOptions["moduleResolution"] = "nodenext"
	}
	return json.MarshalIndent(config, "", "  ")
}

// splitListFiles separates what `tsc --listFiles` printed: absolute paths of the files it read,
// and everything else (the diagnostics).
func splitListFiles(output string) (files []string, diagnostics string) {
	var messages []string
	for _, line := range strings.Split(strings.TrimRight(output, "\n"), "\n") {
		if filepath.IsAbs(line) {
			if _, err := os.Stat(line); err == nil {
				files = append(files, line)
				continue
			}
		}
		if line != "" {
			messages = append(messages, line)
		}
	}
	return files, strings.Join(messages, "\n")
}

var extendsPattern = regexp.MustCompile(`"extends"\s*:\s*"([^"]+)"`)

// configChain is the tsconfig and the local files it extends (a relative "extends"), which tsc does
// not list but whose change changes the compile. An "extends" of a package is inside node_modules,
// which an install rewrites along with the files tsc lists.
func configChain(tsconfig string) []string {
	chain := []string{}
	for file := tsconfig; file != "" && len(chain) < 16; {
		chain = append(chain, file)
		data, err := os.ReadFile(file)
		if err != nil {
			break
		}
		match := extendsPattern.FindSubmatch(data)
		if match == nil || !strings.HasPrefix(string(match[1]), ".") {
			break
		}
		next := filepath.Join(filepath.Dir(file), string(match[1]))
		if !strings.HasSuffix(next, ".json") {
			next += ".json"
		}
		file = next
	}
	return chain
}
