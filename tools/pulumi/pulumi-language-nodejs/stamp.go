package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// stamp records what a compile read, so that the next run can tell in a few milliseconds, without
// starting tsc, whether the compiled program is still the program's: the compile settings, and the
// size and modification time of every file tsc read and of the program's folders (a file added to
// or removed from one changes the folder's time, so a new module that `include` would pick up counts).
type stamp struct {
	Settings string      `json:"settings"`
	Entries  []stampItem `json:"entries"`
}

type stampItem struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"modTime"`
}

// errChangedDuringCompile says a file changed while tsc ran: the compile may have read either
// version, so no stamp is written and the next run compiles again.
var errChangedDuringCompile = errors.New("a source file changed while tsc ran")

// makeStamp stats `files` (what tsc listed, plus the configs), the folders of those inside the
// program folder `dir` up to `dir` itself, and `extraDirs`.
func makeStamp(settings, dir string, files, extraDirs []string, compileStart time.Time) (stamp, error) {
	paths := map[string]bool{}
	for _, file := range files {
		paths[file] = true
		if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") &&
			!strings.Contains(filepath.ToSlash(rel), "node_modules/") {
			for folder := filepath.Dir(file); ; folder = filepath.Dir(folder) {
				paths[folder] = true
				if folder == dir || folder == filepath.Dir(folder) {
					break
				}
			}
		}
	}
	for _, folder := range extraDirs {
		paths[folder] = true
	}
	s := stamp{Settings: settings}
	for path := range paths {
		item, err := statItem(path)
		if err != nil {
			return stamp{}, err
		}
		if item.ModTime >= compileStart.UnixNano() {
			return stamp{}, errChangedDuringCompile
		}
		s.Entries = append(s.Entries, item)
	}
	return s, nil
}

// statItem describes a path; a path that does not exist is recorded as such (size -1), so that
// creating it later (a tsconfig, @types) counts as a change.
func statItem(path string) (stampItem, error) {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return stampItem{Path: path, Size: -1}, nil
	}
	if err != nil {
		return stampItem{}, err
	}
	size := info.Size()
	if info.IsDir() {
		size = 0
	}
	return stampItem{Path: path, Size: size, ModTime: info.ModTime().UnixNano()}, nil
}

// current says whether the stamp in `file` was made with `settings` and nothing it records changed.
func current(file, settings string) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	var s stamp
	if json.Unmarshal(data, &s) != nil || s.Settings != settings || len(s.Entries) == 0 {
		return false
	}
	for _, recorded := range s.Entries {
		now, err := statItem(recorded.Path)
		if err != nil || now != recorded {
			return false
		}
	}
	return true
}

func (s stamp) write(file string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
