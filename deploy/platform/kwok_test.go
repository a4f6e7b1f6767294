package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kwokNodes are fake nodes: kwok's controller keeps them Ready and marks
// pods bound to them Running. The edge node carries the label and taint the
// edge bundle selects and tolerates.
const kwokNodes = `apiVersion: v1
kind: Node
metadata:
  name: cloud-1
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: cloud-1, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
---
apiVersion: v1
kind: Node
metadata:
  name: edge-1
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: edge-1, kubernetes.io/os: linux, kubernetes.io/arch: arm64, type: kwok, geotrack.io/edge: "true"}
spec:
  taints: [{key: geotrack.io/edge, value: "true", effect: NoSchedule}]
status:
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
`

// hostPathPV is a statically provisioned volume for one PVC to bind to.
func hostPathPV(name, size, class, node string) string {
	classLine := ""
	if class != "" {
		classLine = "\n  storageClassName: " + class
	}
	return fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: %s}
spec:
  capacity: {storage: %s}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain%s
  hostPath: {path: /var/lib/geotrack/%s}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [%s]}]}]
---
`, name, size, classLine, name, node)
}

// wantNode is where a pod belongs: the whole edge bundle and the chart's
// edge functions on the edge node, the rest of the chart on the cloud node.
func wantNode(namespace, pod string) string {
	if namespace == "geotrack-edge" {
		return "edge-1"
	}
	for _, fn := range []string{"edge-ingest", "forwarder", "osmand", "owntracks"} {
		if strings.HasPrefix(pod, "geotrack-"+fn+"-") {
			return "edge-1"
		}
	}
	return "cloud-1"
}

// TestKwokRunsKubernetesPlatform creates a kwok cluster (real etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler; fake nodes)
// and installs the chart's `kubernetes` platform with the in-chart Redis and
// MinIO and its edge functions pinned to edge nodes, and the edge-k3s bundle:
// every pod must be scheduled onto the node
// its selectors and tolerations allow and reach Running, and every PVC must
// bind to a hostPath PV.
func TestKwokRunsKubernetesPlatform(t *testing.T) {
	work := t.TempDir()
	kubeconfig := filepath.Join(work, "kubeconfig")
	env := []string{"KWOK_WORKDIR=" + filepath.Join(work, "kwok")}
	kwokctl := tool(t, "kwokctl")
	cluster := fmt.Sprintf("geotrack-%d", os.Getpid())
	t.Cleanup(func() {
		_, _ = runErr("", env, kwokctl, "delete", "cluster", "--name", cluster, "--kubeconfig", kubeconfig)
	})
	start := time.Now()
	run(t, "", env, kwokctl, "create", "cluster", "--name", cluster, "--runtime", "binary",
		"--kubeconfig", kubeconfig, "--timeout", "3m",
		"--etcd-binary", systemTool(t, "etcd", "etcd-server"),
		"--kube-apiserver-binary", tool(t, "kube-apiserver"),
		"--kube-controller-manager-binary", tool(t, "kube-controller-manager"),
		"--kube-scheduler-binary", tool(t, "kube-scheduler"),
		"--kwok-controller-binary", tool(t, "kwok"))
	t.Logf("kwok cluster up in %s", time.Since(start).Round(time.Second))
	s := &apiServer{Kubeconfig: kubeconfig, kubectlBin: tool(t, "kubectl-geotrack")}
	if t.Failed() {
		return
	}

	s.kubectl(t, []byte(kwokNodes), "apply", "-f", "-")
	chart := filepath.Join(repoRoot, "charts", "geotrack")
	rendered := run(t, "", nil, tool(t, "helm"), "template", "geotrack", chart, "--namespace", "geotrack", "--skip-tests",
		"--values", filepath.Join(chart, "ci", "kubernetes-values.yaml"), "--set", "redis.enabled=true,minio.enabled=true",
		// the chart's edge functions go to the edge node, as on a mixed cluster
		"--set-json", `edge.nodeSelector={"geotrack.io/edge":"true"}`,
		"--set-json", `edge.tolerations=[{"key":"geotrack.io/edge","operator":"Equal","value":"true","effect":"NoSchedule"}]`)
	bundle, err := os.ReadFile(filepath.Join(repoRoot, "edge-k3s", "bundle", "geotrack-edge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// One PV per PVC: the chart's Redis (1Gi) and MinIO (5Gi) claim the
	// default class (none here: class ""), the edge Redis claims local-path.
	pvs := hostPathPV("chart-redis", "1Gi", "", "cloud-1") + hostPathPV("chart-minio", "5Gi", "", "cloud-1") +
		hostPathPV("edge-redis", "2Gi", "local-path", "edge-1")
	s.kubectl(t, []byte(pvs), "apply", "-f", "-")
	s.kubectl(t, nil, "create", "namespace", "geotrack")
	s.kubectl(t, rendered, "apply", "-n", "geotrack", "-f", "-")
	s.kubectl(t, bundle, "apply", "-f", "-")

	// Pods of Deployments and StatefulSets. The schedule's CronJob pods
	// (`geotrack invoke` of the forwarder every minute) come and go; the
	// chart leaves them unpinned, so they are not checked here.
	columns := "custom-columns=NAME:.metadata.name,PHASE:.status.phase,NODE:.spec.nodeName,OWNER:.metadata.ownerReferences[0].kind"
	workloadPods := func(ns string) ([]string, error) {
		out, err := s.kubectlErr(nil, "-n", ns, "get", "pods", "--no-headers", "-o", columns)
		if err != nil {
			return nil, err
		}
		var pods []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(l); len(f) == 4 && f[3] != "Job" {
				pods = append(pods, l)
			}
		}
		return pods, nil
	}
	for _, ns := range []string{"geotrack", "geotrack-edge"} {
		var lastPods []string
		var lastErr error
		deadline := time.Now().Add(3 * time.Minute)
		for {
			lastPods, lastErr = workloadPods(ns)
			running := lastErr == nil && len(lastPods) > 0
			for _, l := range lastPods {
				if strings.Fields(l)[1] != "Running" {
					running = false
				}
			}
			if running {
				break
			}
			if time.Now().After(deadline) {
				// Say what was stuck, so a failure in CI can be told apart
				// from a slow machine.
				events, _ := s.kubectlErr(nil, "-n", ns, "get", "events", "--sort-by=.lastTimestamp")
				t.Fatalf("timed out after 3m waiting for every pod in %s Running (error %v):\n%s\nevents:\n%s",
					ns, lastErr, strings.Join(lastPods, "\n"), lastLines(string(events), 40))
			}
			time.Sleep(200 * time.Millisecond)
		}
		pods, err := workloadPods(ns)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s:\n%s", ns, strings.Join(pods, "\n"))
		for _, l := range pods {
			f := strings.Fields(l)
			if want := wantNode(ns, f[0]); f[2] != want {
				t.Errorf("%s: pod not on %s: %s", ns, want, l)
			}
		}
		out := s.kubectl(t, nil, "-n", ns, "get", "pvc", "--no-headers", "-o", "custom-columns=NAME:.metadata.name,STATUS:.status.phase,VOLUME:.spec.volumeName")
		t.Logf("%s PVCs:\n%s", ns, out)
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if !strings.Contains(l, "Bound") {
				t.Errorf("%s: PVC not bound: %s", ns, l)
			}
		}
	}
	// A Deployment is Available once the controller counts its pods ready:
	// what `kubectl rollout status` waits for on a real cluster.
	for _, ns := range []string{"geotrack", "geotrack-edge"} {
		s.kubectl(t, nil, "-n", ns, "wait", "--for=condition=Available", "deployment", "--all", "--timeout=60s")
	}
}

// lastLines keeps the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
