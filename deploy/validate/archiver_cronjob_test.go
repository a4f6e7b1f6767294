package validate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// renderWith renders a platform's ci values plus extra values (YAML appended
// to the ci file, so keys must not repeat its top-level ones).
func renderWith(t *testing.T, platform, extra string) ([]Object, error) {
	t.Helper()
	ci, err := os.ReadFile(filepath.Join(chartDir, "ci", platform+"-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, append(ci, []byte("\n"+extra)...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := HelmTemplate(helmOrFail(t), chartDir, values, release, relNS)
	if err != nil {
		return nil, err
	}
	objs, err := DecodeStream(out)
	if err != nil {
		t.Fatalf("%s render does not decode strictly:\n%v", platform, err)
	}
	return objs, nil
}

func envValue(env []corev1.EnvVar, name string) (corev1.EnvVar, bool) {
	i := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == name })
	if i < 0 {
		return corev1.EnvVar{}, false
	}
	return env[i], true
}

// TestArchiverCronJob: archiver.cronJob is off by default (the archiver
// schedules itself with ARCHIVE_INTERVAL); enabled, platforms kubernetes and
// knative get a CronJob that POSTs to the archiver with `geotrack invoke`
// and the optional schedule-token, and the archiver's own interval is 0.
// Platform openfaas refuses it (the interval is the way there).
func TestArchiverCronJob(t *testing.T) {
	const enabled = "archiver:\n  cronJob:\n    enabled: true\n    schedule: \"5 * * * *\"\n    timeout: 15m\n"
	name := fnResource("archiver")
	cases := []struct {
		name, platform, extra string
		wantCron              bool
		wantErr               string
	}{
		{name: "default", platform: "kubernetes", extra: "", wantCron: false},
		{name: "default", platform: "knative", extra: "", wantCron: false},
		{name: "enabled", platform: "kubernetes", extra: enabled, wantCron: true},
		{name: "enabled", platform: "knative", extra: enabled, wantCron: true},
		{name: "archiver disabled", platform: "kubernetes", extra: enabled + "functions:\n  archiver:\n    enabled: false\n", wantCron: false},
		{name: "enabled", platform: "openfaas", extra: enabled, wantErr: "platform openfaas schedules the archiver with ARCHIVE_INTERVAL"},
	}
	for _, c := range cases {
		t.Run(c.platform+"/"+c.name, func(t *testing.T) {
			objs, err := renderWith(t, c.platform, c.extra)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("render error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cj, ok := byKind[batchv1.CronJob](objs, "CronJob")[name]
			if ok != c.wantCron {
				t.Fatalf("archiver CronJob present=%v, want %v", ok, c.wantCron)
			}
			var archiverEnv []corev1.EnvVar
			switch c.platform {
			case "kubernetes":
				if d, ok := byKind[appsv1.Deployment](objs, "Deployment")[name]; ok {
					archiverEnv = d.Spec.Template.Spec.Containers[0].Env
				}
			case "knative":
				if s, ok := byKind[KnativeService](objs, "Service")[name]; ok {
					archiverEnv = s.Spec.Template.Spec.Containers[0].Env
				}
			}
			interval, hasInterval := envValue(archiverEnv, "ARCHIVE_INTERVAL")
			if !c.wantCron {
				if len(archiverEnv) > 0 && (!hasInterval || interval.Value == "0s" || interval.Value == "") {
					t.Errorf("no CronJob, yet the archiver's ARCHIVE_INTERVAL is %q: nothing would schedule passes", interval.Value)
				}
				return
			}
			if !hasInterval || interval.Value != "0s" {
				t.Errorf("archiver ARCHIVE_INTERVAL %q with the CronJob on: want 0s (one schedule)", interval.Value)
			}
			if cj.Spec.Schedule != "5 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("schedule %q concurrency %q", cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy)
			}
			pod := cj.Spec.JobTemplate.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			ctr := pod.Containers[0]
			if !strings.HasSuffix(ctr.Image, "/archiver:ci") {
				t.Errorf("image %q: want the geotrack image of the archiver", ctr.Image)
			}
			want := []string{"/geotrack", "invoke", "", "--timeout", "15m"}
			if len(ctr.Command) != len(want) || ctr.Command[0] != want[0] || ctr.Command[1] != want[1] ||
				!strings.HasPrefix(ctr.Command[2], "http://"+name+"."+relNS+".svc") || ctr.Command[3] != want[3] || ctr.Command[4] != want[4] {
				t.Errorf("command %q: want `/geotrack invoke http://%s.%s.svc... --timeout 15m`", ctr.Command, name, relNS)
			}
			tok, ok := envValue(ctr.Env, "GEOTRACK_TOKEN")
			ref := tok.ValueFrom
			if !ok || ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Key != "schedule-token" ||
				ref.SecretKeyRef.Name != "geotrack-secrets" || ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional {
				t.Errorf("GEOTRACK_TOKEN %+v: want the optional key schedule-token of geotrack-secrets", tok)
			}
			sc := ctr.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("container securityContext %+v restartPolicy %q", sc, pod.RestartPolicy)
			}
		})
	}
}
