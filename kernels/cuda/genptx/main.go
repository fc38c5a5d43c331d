// Command genptx compiles kernels/cuda/src/*.cu to PTX with nvcc and writes
// the Go files that carry it, so that `go build -tags cuda` never needs
// nvcc (the mumax/3 pattern). Run it through `go generate ./kernels/cuda/`.
//
// It writes, in kernels/cuda:
//   - zptx_cuda.go (build tag cuda): each source's PTX for compute_80 and
//     compute_90, as raw string constants;
//   - zptx_sums.go (no build tag): the SHA-256 of each source (with the
//     common header), the nvcc version, and every kernel's parameter types
//     read from the PTX. TestPTXFresh compares the hashes with the sources,
//     so a stale PTX fails the ordinary tests even where nvcc is missing,
//     and the launch tests check every call's arguments against the types.
//
// With -check it writes nothing: it exits 1 if the committed files differ
// from what it would write. Where the installed nvcc is not the version that
// produced the committed PTX, only the hashes and signatures are compared
// (another nvcc emits other, equally valid, PTX).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

var archs = []int{80, 90}

const header = "common.cuh"

type module struct {
	name   string            // file name without .cu
	sum    string            // sha256 of header + source
	ptx    map[int]string    // arch -> PTX
	params map[string]string // kernel -> space-separated PTX param types
	order  []string          // kernel names in PTX order
}

func main() {
	check := flag.Bool("check", false, "compare the committed files with freshly generated ones; write nothing")
	dir := flag.String("dir", ".", "the kernels/cuda directory")
	flag.Parse()
	if err := run(*dir, *check); err != nil {
		fmt.Fprintln(os.Stderr, "genptx:", err)
		os.Exit(1)
	}
}

func run(dir string, check bool) error {
	src := filepath.Join(dir, "src")
	files, err := filepath.Glob(filepath.Join(src, "*.cu"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no .cu files in %s", src)
	}
	slices.Sort(files)
	hdr, err := os.ReadFile(filepath.Join(src, header))
	if err != nil {
		return err
	}
	version, err := nvccVersion()
	if err != nil {
		return err
	}
	var mods []module
	for _, f := range files {
		m, err := compile(f, hdr)
		if err != nil {
			return err
		}
		mods = append(mods, m)
	}
	ptxFile, err := writePTX(mods, version)
	if err != nil {
		return err
	}
	sumsFile, err := writeSums(mods, version)
	if err != nil {
		return err
	}
	outPTX, outSums := filepath.Join(dir, "zptx_cuda.go"), filepath.Join(dir, "zptx_sums.go")
	if !check {
		if err := os.WriteFile(outPTX, ptxFile, 0o644); err != nil {
			return err
		}
		return os.WriteFile(outSums, sumsFile, 0o644)
	}
	oldSums, err := os.ReadFile(outSums)
	if err != nil {
		return err
	}
	if !bytes.Equal(oldSums, sumsFile) {
		return fmt.Errorf("%s is stale (sources, nvcc version or kernel signatures changed): run go generate ./kernels/cuda/", outSums)
	}
	oldPTX, err := os.ReadFile(outPTX)
	if err != nil {
		return err
	}
	if !bytes.Equal(oldPTX, ptxFile) {
		return fmt.Errorf("%s differs from what nvcc %s emits now: run go generate ./kernels/cuda/", outPTX, version)
	}
	fmt.Printf("genptx: committed PTX is up to date (nvcc %s)\n", version)
	return nil
}

func nvccVersion() (string, error) {
	out, err := exec.Command("nvcc", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("nvcc --version: %v (install it with .ci/cuda-deps.sh --nvcc)", err)
	}
	m := regexp.MustCompile(`release [0-9.]+, V([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("cannot read the version in %q", out)
	}
	return string(m[1]), nil
}

var (
	entryRe = regexp.MustCompile(`(?s)\.entry\s+(\w+)\s*\((.*?)\)`)
	paramRe = regexp.MustCompile(`\.param\s+\.(\w+)`)
)

func compile(file string, hdr []byte) (module, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return module{}, err
	}
	h := sha256.New()
	h.Write(hdr)
	h.Write(text)
	m := module{
		name:   strings.TrimSuffix(filepath.Base(file), ".cu"),
		sum:    hex.EncodeToString(h.Sum(nil)),
		ptx:    map[int]string{},
		params: map[string]string{},
	}
	tmp, err := os.MkdirTemp("", "genptx")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	for _, arch := range archs {
		out := filepath.Join(tmp, fmt.Sprintf("%s_%d.ptx", m.name, arch))
		cmd := exec.Command("nvcc", "-ptx", fmt.Sprintf("-arch=compute_%d", arch), "-O3",
			"-I", filepath.Dir(file), "-o", out, file)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return m, fmt.Errorf("nvcc %s (compute_%d): %v", file, arch, err)
		}
		ptx, err := os.ReadFile(out)
		if err != nil {
			return m, err
		}
		if bytes.ContainsRune(ptx, '`') {
			return m, fmt.Errorf("%s: PTX contains a backquote", file)
		}
		m.ptx[arch] = string(ptx)
		sigs := map[string]string{}
		var order []string
		for _, e := range entryRe.FindAllSubmatch(ptx, -1) {
			var types []string
			for _, p := range paramRe.FindAllSubmatch(e[2], -1) {
				types = append(types, string(p[1]))
			}
			sigs[string(e[1])] = strings.Join(types, " ")
			order = append(order, string(e[1]))
		}
		if len(order) == 0 {
			return m, fmt.Errorf("%s: no kernels in the PTX", file)
		}
		if arch == archs[0] {
			m.params, m.order = sigs, order
		} else if fmt.Sprint(sigs) != fmt.Sprint(m.params) {
			return m, fmt.Errorf("%s: kernel signatures differ between architectures", file)
		}
	}
	return m, nil
}

func writePTX(mods []module, version string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by genptx (nvcc %s) from src/*.cu; DO NOT EDIT.\n\n//go:build cuda\n\npackage cuda\n\n", version)
	b.WriteString("var ptxModules = []ptxModule{\n")
	for _, m := range mods {
		fmt.Fprintf(&b, "\t{name: %q, kernels: %#v, ptx80: ptx_%s_80, ptx90: ptx_%s_90},\n", m.name, m.order, m.name, m.name)
	}
	b.WriteString("}\n")
	for _, m := range mods {
		for _, arch := range archs {
			fmt.Fprintf(&b, "\nconst ptx_%s_%d = `%s`\n", m.name, arch, m.ptx[arch])
		}
	}
	return format.Source(b.Bytes())
}

func writeSums(mods []module, version string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by genptx from src/*.cu; DO NOT EDIT.\n\npackage cuda\n\n")
	fmt.Fprintf(&b, "// ptxNVCC is the nvcc version that produced zptx_cuda.go.\nconst ptxNVCC = %q\n\n", version)
	b.WriteString("// ptxSourceSHA256 is the SHA-256 of src/common.cuh followed by each source.\nvar ptxSourceSHA256 = map[string]string{\n")
	for _, m := range mods {
		fmt.Fprintf(&b, "%q: %q,\n", m.name+".cu", m.sum)
	}
	b.WriteString("}\n\n// ptxParams lists each kernel's PTX parameter types in order.\nvar ptxParams = map[string]string{\n")
	for _, m := range mods {
		for _, k := range m.order {
			fmt.Fprintf(&b, "%q: %q,\n", k, m.params[k])
		}
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
