package main

import (
	"os"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestDeployConfigurationValidates feeds the environment the Kubernetes
// Job gives esrestore (the ConfigMap and the Job's env) through the same
// validation as a real start, so a bad value in a manifest, not only a bad
// name, fails CI.
func TestDeployConfigurationValidates(t *testing.T) {
	var cm corev1.ConfigMap
	readYAML(t, "../../deploy/configmap.yaml", &cm)
	var job batchv1.Job
	readYAML(t, "../../deploy/job.yaml", &job)
	vars := map[string]string{}
	for k, v := range cm.Data {
		vars[k] = v
	}
	files := map[string]string{}
	for _, c := range job.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if !strings.HasPrefix(e.Name, envPrefix) {
				continue
			}
			vars[e.Name] = e.Value
			if strings.HasSuffix(e.Name, "_FILE") || strings.HasSuffix(e.Name, "_CA_CERT") {
				files[e.Value] = "from-a-mounted-secret"
			}
		}
	}
	if len(vars) < 10 {
		t.Fatalf("only %d ESRESTORE_ variables found in deploy/", len(vars))
	}
	known := map[string]bool{}
	for _, g := range runFlags() {
		for _, f := range g {
			known[envName(f.name)] = true
			if f.secret {
				known[envName(f.name)+"_FILE"] = true
			}
		}
	}
	for k := range vars {
		if !known[k] {
			t.Errorf("deploy/ sets %s, which esrestore does not read", k)
		}
	}
	env, _, _ := testEnv(vars, files)
	fs, fv := newFlagSet("run", "", env, runFlags()...)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	c, err := fv.build(time.Now(), "es-url", "original", "source", "environment")
	if err != nil {
		t.Fatalf("the deploy/ configuration does not validate:\n%v", err)
	}
	if c.RunID != vars["ESRESTORE_RUN_ID"] || c.ES.Password != "from-a-mounted-secret" {
		t.Errorf("run id %q, password from file %q", c.RunID, c.ES.Password)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
