// Command notices writes the third-party notices of a built redis-vip
// binary: the Go standard library and every module linked into it (read
// from the binary's build information, what `go version -m` prints), each
// with its license files (LICENSE, COPYING, NOTICE, PATENTS) in full, taken
// from the module cache (`go mod download -json` gives each module's
// directory) and from GOROOT. scripts/build-deb.sh runs it at build time;
// it is not part of the program.
//
//	go run ./internal/tools/notices [-o FILE] [-version V] BINARY
//
// It fails when a module has no license file: the notices must be complete.
package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "notices: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("notices", flag.ContinueOnError)
	out := fs.String("o", "", "write the notices to `FILE` (default: standard output)")
	version := fs.String("version", "", "the program's `version` (default: the main module's; -trimpath builds do not record -ldflags)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: notices [-o FILE] [-version V] BINARY")
	}
	info, err := buildinfo.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("read build information: %w", err)
	}
	goroot, err := goEnv(ctx, "GOROOT")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if *version != "" {
		info.Main.Version = *version
	}
	if err := write(&b, info, goroot, downloadDir(ctx)); err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(*out, b.Bytes(), 0o644)
}

// module is one linked module as the notices name it.
type module struct {
	path, version string
	// replaced is "path version" of what go.mod replaced it with, or "".
	replaced string
	dir      string
}

// licenseFile matches the files the notices reproduce.
var licenseFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice|patents)([-._].*)?$`)

// write renders the notices: an index, then the Go standard library, then
// each module, sorted by path. dir returns a module's directory.
func write(w io.Writer, info *buildinfo.BuildInfo, goroot string, dir func(path, version string) (string, error)) error {
	var mods []module
	for _, d := range info.Deps {
		m := module{path: d.Path, version: d.Version}
		src := d
		if d.Replace != nil {
			src = d.Replace
			m.replaced = strings.TrimSpace(d.Replace.Path + " " + d.Replace.Version)
		}
		var err error
		if m.dir, err = dir(src.Path, src.Version); err != nil {
			return fmt.Errorf("module %s %s: %w", d.Path, d.Version, err)
		}
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].path < mods[j].path })

	if v, err := os.ReadFile(filepath.Join(goroot, "VERSION")); err == nil {
		if first, _, _ := strings.Cut(string(v), "\n"); first != info.GoVersion {
			return fmt.Errorf("GOROOT %s is %s, the binary was built with %s", goroot, first, info.GoVersion)
		}
	}
	fmt.Fprintf(w, "Third-party software in redis-vip %s\n\n", info.Main.Version)
	fmt.Fprintf(w, "redis-vip is licensed under the Apache License, Version 2.0. Its program is\n"+
		"one statically linked binary: it also contains the Go standard library and\n"+
		"runtime and the Go modules listed below, under their own licenses, which\n"+
		"follow in full. Generated from the binary's build information (what\n"+
		"`go version -m` prints) and each module's license files.\n\n")
	fmt.Fprintf(w, "  Go standard library %s\n", info.GoVersion)
	for _, m := range mods {
		fmt.Fprintf(w, "  %s %s", m.path, m.version)
		if m.replaced != "" {
			fmt.Fprintf(w, " (replaced by %s)", m.replaced)
		}
		fmt.Fprintln(w)
	}
	if err := section(w, "Go standard library "+info.GoVersion, "https://go.dev/", goroot); err != nil {
		return err
	}
	for _, m := range mods {
		if err := section(w, m.path+" "+m.version, "https://pkg.go.dev/"+m.path+"@"+m.version, m.dir); err != nil {
			return err
		}
	}
	return nil
}

// section writes one component's heading and every license file in dir.
func section(w io.Writer, title, url, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && licenseFile.MatchString(e.Name()) {
			files = append(files, e.Name())
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no license file in %s", title, dir)
	}
	sort.Strings(files)
	rule := strings.Repeat("=", 78)
	fmt.Fprintf(w, "\n%s\n%s\n%s\n", rule, title, url)
	for _, f := range files {
		text, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("%s: %w", title, err)
		}
		fmt.Fprintf(w, "\n--- %s ---\n\n%s", f, strings.TrimRight(string(text), "\n")+"\n")
	}
	return nil
}

// downloadDir finds a module's directory in the module cache, downloading
// it if needed (`go mod download -json`).
func downloadDir(ctx context.Context) func(path, version string) (string, error) {
	return func(path, version string) (string, error) {
		if version == "" || strings.HasPrefix(path, ".") || filepath.IsAbs(path) {
			return path, nil // a directory replacement
		}
		out, err := goCmd(ctx, "mod", "download", "-json", path+"@"+version)
		if err != nil {
			return "", err
		}
		var m struct{ Dir, Error string }
		if err := json.Unmarshal(out, &m); err != nil {
			return "", fmt.Errorf("go mod download %s@%s: %w", path, version, err)
		}
		if m.Error != "" || m.Dir == "" {
			return "", fmt.Errorf("go mod download %s@%s: %s", path, version, m.Error)
		}
		return m.Dir, nil
	}
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := goCmd(ctx, "env", name)
	return strings.TrimSpace(string(out)), err
}

func goCmd(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
