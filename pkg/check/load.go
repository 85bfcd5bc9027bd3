package check

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// StdinName names standard input in positions and messages.
const StdinName = "<stdin>"

// Load reads the objects of the inputs in order: files, directories (their
// *.yaml, *.yml and *.json files, recursively, in lexical order, skipping
// hidden directories), and "-" for stdin. No paths means stdin. The error
// lists every input that cannot be read or decoded, one per line; the
// objects that could be read are returned with it.
func Load(paths []string, stdin io.Reader) ([]Document, error) {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	var docs []Document
	var errs []error
	read := func(name string, data []byte) {
		more, derrs := Decode(name, data)
		docs = append(docs, more...)
		for _, e := range derrs {
			errs = append(errs, e)
		}
	}
	stdinRead := false
	for _, p := range paths {
		if p == "-" {
			if stdinRead {
				continue
			}
			stdinRead = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading standard input: %w", err))
				continue
			}
			read(StdinName, data)
			continue
		}
		files, err := expand(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, pathError(err))
				continue
			}
			read(f, data)
		}
	}
	return docs, errors.Join(errs...)
}

// expand lists the manifest files of a path: the file itself, or the
// manifests under a directory.
func expand(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, pathError(err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return pathError(err)
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if isManifest(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml, *.yml or *.json files in the directory", path)
	}
	return files, nil
}

func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// pathError says "PATH: problem" rather than "stat PATH: problem".
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
