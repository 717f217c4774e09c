package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A program folder with index.ts importing lib/util.ts, and a node_modules file outside the folder walk.
func stampedProgram(t *testing.T) (dir string, files []string, stampFile string) {
	t.Helper()
	dir = t.TempDir()
	files = []string{filepath.Join(dir, "index.ts"), filepath.Join(dir, "lib", "util.ts"),
		filepath.Join(dir, "node_modules", "pkg", "index.d.ts")}
	for _, file := range files {
		writeFile(t, file, "export const x = 1;\n")
	}
	// Times in the past, so that the stamp is not refused as made during a compile.
	past := time.Now().Add(-time.Minute)
	for _, path := range append(files, filepath.Join(dir, "lib"), dir) {
		if err := os.Chtimes(path, past, past); err != nil {
			t.Fatal(err)
		}
	}
	s, err := makeStamp("settings", dir, append(files, filepath.Join(dir, "tsconfig.json")), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stampFile = filepath.Join(t.TempDir(), "stamp.json")
	if err := s.write(stampFile); err != nil {
		t.Fatal(err)
	}
	if !current(stampFile, "settings") {
		t.Fatal("a fresh stamp is not current")
	}
	return dir, files, stampFile
}

func TestStampIsStaleAfterEveryKindOfChange(t *testing.T) {
	changes := map[string]func(t *testing.T, dir string, files []string){
		"a source edited": func(t *testing.T, _ string, files []string) {
			writeFile(t, files[1], "export const x = 2;\n")
		},
		"a file of a package reinstalled": func(t *testing.T, _ string, files []string) {
			writeFile(t, files[2], "export const x = 1;\n")
		},
		"a module added to a program folder (picked up by include)": func(t *testing.T, dir string, _ []string) {
			writeFile(t, filepath.Join(dir, "lib", "new.ts"), "")
		},
		"a tsconfig created where there was none": func(t *testing.T, dir string, _ []string) {
			writeFile(t, filepath.Join(dir, "tsconfig.json"), "{}")
		},
		"a source deleted": func(t *testing.T, _ string, files []string) {
			if err := os.Remove(files[0]); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			dir, files, stampFile := stampedProgram(t)
			change(t, dir, files)
			if current(stampFile, "settings") {
				t.Fatalf("the stamp is still current after %s", name)
			}
		})
	}
}

func TestStampIsStaleForOtherSettingsOrNoStamp(t *testing.T) {
	_, _, stampFile := stampedProgram(t)
	if current(stampFile, "other settings") {
		t.Fatal("a stamp made with other compile settings counts as current")
	}
	if current(filepath.Join(t.TempDir(), "missing.json"), "settings") {
		t.Fatal("a missing stamp counts as current")
	}
}

func TestNoStampForAFileChangedDuringTheCompile(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Add(-time.Second)
	file := filepath.Join(dir, "index.ts")
	writeFile(t, file, "")
	if _, err := makeStamp("settings", dir, []string{file}, nil, start); !errors.Is(err, errChangedDuringCompile) {
		t.Fatalf("got %v, want errChangedDuringCompile", err)
	}
}
