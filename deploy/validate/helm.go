package validate

import (
	"bytes"
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
)

// KubeVersion is the Kubernetes version charts are rendered and linted for,
// fixed so results do not depend on how helm was built.
const KubeVersion = "1.33.0"

// HelmBinary finds helm: $HELM, then the Go bin directory that
// scripts/install-tools.sh installs into, then $PATH.
func HelmBinary() (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, p := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "helm"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p, nil
	}
	return "", errors.New("helm not found: run scripts/install-tools.sh (installs helm v3.22.0 into $(go env GOPATH)/bin) or set HELM")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// HelmTemplate renders chartDir with valuesFile for release in namespace.
func HelmTemplate(helm, chartDir, valuesFile, release, namespace string) ([]byte, error) {
	return runHelm(helm, "template", release, chartDir,
		"--namespace", namespace, "--values", valuesFile, "--kube-version", KubeVersion)
}

// HelmLint runs `helm lint --strict` with valuesFile.
func HelmLint(helm, chartDir, valuesFile string) ([]byte, error) {
	return runHelm(helm, "lint", "--strict", chartDir, "--values", valuesFile, "--kube-version", KubeVersion)
}

func runHelm(helm string, args ...string) ([]byte, error) {
	cmd := exec.Command(helm, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %v: %w\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}
