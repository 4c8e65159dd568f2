package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// knownEnv lists the variables esrestore reads: each flag from
// ESRESTORE_<FLAG>, each secret also from ESRESTORE_<FLAG>_FILE. It copies
// the flag table in cmd/esrestore/config.go (which package main does not
// export): replace it by that table, so that a misspelt variable in a
// manifest, which esrestore would silently never read, fails here.
var knownEnv = []string{
	"ESRESTORE_ES_URL",
	"ESRESTORE_ES_USERNAME",
	"ESRESTORE_ES_PASSWORD",
	"ESRESTORE_ES_PASSWORD_FILE",
	"ESRESTORE_ES_API_KEY",
	"ESRESTORE_ES_API_KEY_FILE",
	"ESRESTORE_ES_BEARER_TOKEN",
	"ESRESTORE_ES_BEARER_TOKEN_FILE",
	"ESRESTORE_ES_CA_CERT",
	"ESRESTORE_ES_TLS_SERVER_NAME",
	"ESRESTORE_ORIGINAL",
	"ESRESTORE_SOURCE",
	"ESRESTORE_TARGET",
	"ESRESTORE_MODE",
	"ESRESTORE_PREFER",
	"ESRESTORE_WORKERS",
	"ESRESTORE_BATCH_SIZE",
	"ESRESTORE_BATCH_BYTES",
	"ESRESTORE_RETRY_FOR",
	"ESRESTORE_BULK_TIMEOUT",
	"ESRESTORE_DRAIN_TIMEOUT",
	"ESRESTORE_ALLOW_EMPTY_SOURCE",
	"ESRESTORE_KEEP_STAGING",
	"ESRESTORE_MAX_DOCS_PER_SECOND",
	"ESRESTORE_NOTIFY",
	"ESRESTORE_NOTIFY_FILE",
	"ESRESTORE_IGNORE",
	"ESRESTORE_OUTPUT",
	"ESRESTORE_S3_ENDPOINT",
	"ESRESTORE_S3_REGION",
	"ESRESTORE_S3_SSE",
	"ESRESTORE_S3_KMS_KEY_ID",
	"ESRESTORE_ENVIRONMENT",
	"ESRESTORE_RUN_ID",
	"ESRESTORE_RERUN",
	"ESRESTORE_DRY_RUN",
	"ESRESTORE_FAIL_ON",
	"ESRESTORE_EXPECT_CONFIG",
	"ESRESTORE_LOG_FORMAT",
	"ESRESTORE_LOG_LEVEL",
	"ESRESTORE_PROGRESS",
	"ESRESTORE_REPORT",
	"ESRESTORE_ALIAS",
	"ESRESTORE_ACCEPT",
	"ESRESTORE_BLOCK_WRITES",
}

// secretEnv are the secrets esrestore also reads from a file; in the
// manifests only their _FILE form may appear.
var secretEnv = []string{"ESRESTORE_ES_PASSWORD", "ESRESTORE_ES_API_KEY", "ESRESTORE_ES_BEARER_TOKEN", "ESRESTORE_NOTIFY"}

// fileEnv are the variables whose value is the path of a mounted secret file.
var fileEnv = []string{"ESRESTORE_ES_PASSWORD_FILE", "ESRESTORE_ES_API_KEY_FILE", "ESRESTORE_ES_BEARER_TOKEN_FILE", "ESRESTORE_NOTIFY_FILE", "ESRESTORE_ES_CA_CERT"}

// kustomization is the part of kustomize's Kustomization that deploy/ uses;
// decoded as strictly as the Kubernetes types, so an unsupported field fails.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string           `json:"namespace,omitempty"`
	Resources       []string         `json:"resources,omitempty"`
	Images          []kustomizeImage `json:"images,omitempty"`
}

type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// kinds maps apiVersion and kind to the type a document decodes into.
var kinds = map[[2]string]func() any{
	{"batch/v1", "Job"}:      func() any { return new(batchv1.Job) },
	{"v1", "ServiceAccount"}: func() any { return new(corev1.ServiceAccount) },
	{"v1", "ConfigMap"}:      func() any { return new(corev1.ConfigMap) },
	{"v1", "Secret"}:         func() any { return new(corev1.Secret) },
	{"kustomize.config.k8s.io/v1beta1", "Kustomization"}: func() any { return new(kustomization) },
}

// decodeStrict decodes one YAML document into the type its apiVersion and
// kind name. It fails on a duplicate key, an unknown field, or a known field
// spelt in another case: encoding/json's DisallowUnknownFields alone would
// take `readOnlyRootFileSystem` for readOnlyRootFilesystem, where the API
// server (and kubectl's default --validate=strict) rejects it, so the JSON is
// decoded with sigs.k8s.io/json, the API server's own strict decoder. A
// document of only comments decodes to nil.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	if string(js) == "null" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, fmt.Errorf("apiVersion/kind: %w", err)
	}
	newObj, ok := kinds[[2]string{tm.APIVersion, tm.Kind}]
	if !ok {
		return nil, fmt.Errorf("unknown apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	strictErrs, err := kjson.UnmarshalStrict(js, obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("%s: %w", tm.Kind, errors.Join(strictErrs...))
	}
	return obj, nil
}

// docSeparator is a YAML document marker line.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// decodeFile decodes every document of a multi-document YAML file.
func decodeFile(data []byte) ([]any, error) {
	var objs []any
	for i, doc := range docSeparator.Split(string(data), -1) {
		obj, err := decodeStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

// manifests is every object in deploy/*.yaml, by kind, with its file.
type manifests struct {
	files           map[any]string
	jobs            []*batchv1.Job
	promoteJobs     []*batchv1.Job // promote-job.yaml, applied on its own after review
	serviceAccounts []*corev1.ServiceAccount
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	kustomizations  []*kustomization
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	paths, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yml, _ := filepath.Glob("*.yml")
	paths = append(paths, yml...)
	if len(paths) == 0 {
		t.Fatal("no manifests in deploy/")
	}
	m := &manifests{files: map[any]string{}}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeFile(data)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, obj := range objs {
			m.files[obj] = p
			switch o := obj.(type) {
			case *batchv1.Job:
				if p == promoteJobFile {
					m.promoteJobs = append(m.promoteJobs, o)
				} else {
					m.jobs = append(m.jobs, o)
				}
			case *corev1.ServiceAccount:
				m.serviceAccounts = append(m.serviceAccounts, o)
			case *corev1.ConfigMap:
				m.configMaps = append(m.configMaps, o)
			case *corev1.Secret:
				m.secrets = append(m.secrets, o)
			case *kustomization:
				m.kustomizations = append(m.kustomizations, o)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	for kind, n := range map[string]int{
		"Job":            len(m.jobs),
		"promote Job":    len(m.promoteJobs),
		"ServiceAccount": len(m.serviceAccounts),
		"ConfigMap":      len(m.configMaps),
		"Secret":         len(m.secrets),
		"Kustomization":  len(m.kustomizations),
	} {
		if n != 1 {
			t.Errorf("%d %s manifests, want 1", n, kind)
		}
	}
}

// TestStrictDecodingCatchesTypos proves that a typo in a manifest fails the
// test above rather than being dropped, as a lenient decoder (and, on apply,
// a lenient API server) would drop it.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	const job = `apiVersion: batch/v1
kind: Job
metadata:
  name: x
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: c
          image: i
          securityContext:
            readOnlyRootFilesystem: true
`
	if _, err := decodeStrict([]byte(job)); err != nil {
		t.Fatalf("valid job: %v", err)
	}
	realJob, err := os.ReadFile("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"unknown field", strings.Replace(job, "backoffLimit", "backofLimit", 1), `unknown field "spec.backofLimit"`},
		{"known field in another case", strings.Replace(job, "readOnlyRootFilesystem", "readOnlyRootFileSystem", 1), `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
		{"field at the wrong level", strings.Replace(job, "          securityContext:\n            readOnlyRootFilesystem", "          readOnlyRootFilesystem", 1), `unknown field "spec.template.spec.containers[0].readOnlyRootFilesystem"`},
		{"duplicate key", strings.Replace(job, "  backoffLimit: 3\n", "  backoffLimit: 3\n  backoffLimit: 6\n", 1), `"backoffLimit" already set`},
		{"wrong type", strings.Replace(job, "backoffLimit: 3", "backoffLimit: three", 1), "cannot unmarshal string"},
		{"unknown kind", strings.Replace(job, "kind: Job", "kind: Jobs", 1), `unknown apiVersion "batch/v1" kind "Jobs"`},
		{"wrong apiVersion", strings.Replace(job, "batch/v1", "v1", 1), `unknown apiVersion "v1" kind "Job"`},
		{"typo in job.yaml", strings.Replace(string(realJob), "ttlSecondsAfterFinished:", "ttlSecondAfterFinished:", 1), `unknown field "spec.ttlSecondAfterFinished"`},
		{"case typo in job.yaml", strings.Replace(string(realJob), "readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1), `readOnlyRootFileSystem"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.doc == job || tt.doc == string(realJob) {
				t.Fatal("the replacement changed nothing: the input no longer has the text the test replaces")
			}
			_, err := decodeFile([]byte(tt.doc))
			if err == nil {
				t.Fatalf("decoded without error, want %s", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeFileSplitsDocuments(t *testing.T) {
	data := `# leading comment only
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
--- # a comment after the marker
apiVersion: v1
kind: ServiceAccount
metadata: {name: b}
---
`
	objs, err := decodeFile([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	if _, ok := objs[0].(*corev1.ConfigMap); !ok {
		t.Errorf("first object is %T, want *v1.ConfigMap", objs[0])
	}
	if _, ok := objs[1].(*corev1.ServiceAccount); !ok {
		t.Errorf("second object is %T, want *v1.ServiceAccount", objs[1])
	}
	bad := strings.Replace(data, "kind: ServiceAccount", "kind: ServiceAccount\nautomountServiceAccountTokens: false", 1)
	if _, err := decodeFile([]byte(bad)); err == nil || !strings.Contains(err.Error(), "document 3") {
		t.Errorf("typo in the third document: got error %v, want one naming document 3", err)
	}
}

// theJob returns the one Job and its esrestore container.
func theJob(t *testing.T, m *manifests) (*batchv1.Job, *corev1.Container) {
	t.Helper()
	if len(m.jobs) != 1 {
		t.Fatalf("%d Jobs, want 1", len(m.jobs))
	}
	job := m.jobs[0]
	cs := job.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Job has %d containers, want 1", len(cs))
	}
	return job, &cs[0]
}

func TestJobFailureHandling(t *testing.T) {
	job, c := theJob(t, loadManifests(t))
	spec := job.Spec
	pod := spec.Template.Spec

	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never (a pod failure policy needs it, and a retry is a new pod)", pod.RestartPolicy)
	}
	if spec.BackoffLimit == nil || *spec.BackoffLimit < 1 || *spec.BackoffLimit > 6 {
		t.Errorf("backoffLimit %v, want set, 1..6", spec.BackoffLimit)
	}
	if spec.ActiveDeadlineSeconds == nil || *spec.ActiveDeadlineSeconds <= 0 {
		t.Errorf("activeDeadlineSeconds %v, want set", spec.ActiveDeadlineSeconds)
	}
	if spec.TTLSecondsAfterFinished == nil || *spec.TTLSecondsAfterFinished < 24*3600 {
		t.Errorf("ttlSecondsAfterFinished %v, want set and at least a day, so the reviewer can read the logs", spec.TTLSecondsAfterFinished)
	}
	if spec.Parallelism != nil && *spec.Parallelism != 1 || spec.Completions != nil && *spec.Completions != 1 {
		t.Errorf("parallelism %v completions %v, want 1: two pods on one run id would race", spec.Parallelism, spec.Completions)
	}
	if spec.PodReplacementPolicy != nil && *spec.PodReplacementPolicy != batchv1.Failed {
		t.Errorf("podReplacementPolicy %q, want Failed: a replacement must not start while the old pod still writes", *spec.PodReplacementPolicy)
	}

	// Exit codes: 2 (configuration) and 3 (--fail-on) fail the Job at once;
	// 1 and 130 are retried.
	if spec.PodFailurePolicy == nil {
		t.Fatal("no podFailurePolicy: a configuration error (exit 2) would be retried backoffLimit times")
	}
	failJob := map[int32]bool{}
	for i, r := range spec.PodFailurePolicy.Rules {
		e := r.OnExitCodes
		if e == nil {
			continue
		}
		if e.ContainerName != nil && *e.ContainerName != c.Name {
			t.Errorf("rule %d: containerName %q, want %q", i, *e.ContainerName, c.Name)
		}
		if e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(e.Values, 0) {
			t.Errorf("rule %d: exit code 0 in an In rule (the API server rejects it)", i)
		}
		if r.Action == batchv1.PodFailurePolicyActionFailJob && e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn {
			for _, v := range e.Values {
				failJob[v] = true
			}
		}
	}
	for code, want := range map[int32]bool{1: false, 2: true, 3: true, 130: false} {
		if failJob[code] != want {
			t.Errorf("exit code %d fails the Job at once: %v, want %v", code, failJob[code], want)
		}
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds < 30 {
		t.Errorf("terminationGracePeriodSeconds %v, want at least 30: SIGTERM drains in-flight bulks and writes the summary", pod.TerminationGracePeriodSeconds)
	}
	if len(c.Command) != 0 || !slices.Equal(c.Args, []string{"run"}) {
		t.Errorf("command %q args %q, want the image's entrypoint with args [run]", c.Command, c.Args)
	}
}

func TestJobSecurity(t *testing.T) {
	m := loadManifests(t)
	job, c := theJob(t, m)
	pod := job.Spec.Template.Spec
	psc := pod.SecurityContext
	csc := c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("pod and container need a securityContext")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext.runAsUser %v, want a non-root uid", psc.RunAsUser)
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("container securityContext.allowPrivilegeEscalation is not false")
	}
	if csc.Privileged != nil && *csc.Privileged {
		t.Error("container is privileged")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("container securityContext.readOnlyRootFilesystem is not true")
	}
	if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and nothing added", csc.Capabilities)
	}
	seccomp := psc.SeccompProfile
	if csc.SeccompProfile != nil {
		seccomp = csc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %+v, want RuntimeDefault", seccomp)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("pod shares a host namespace")
	}

	// The image's user and working directory (Dockerfile) agree with the Job.
	uid, workdir := dockerfileUserAndWorkdir(t)
	if psc.RunAsUser != nil && *psc.RunAsUser != uid {
		t.Errorf("runAsUser %d, but the Dockerfile's USER is %d", *psc.RunAsUser, uid)
	}
	// A read-only root filesystem: the working directory and /tmp must be
	// writable volumes.
	for _, dir := range []string{workdir, "/tmp"} {
		v := mountAt(pod, c, dir)
		if v == nil || v.EmptyDir == nil {
			t.Errorf("%s is not an emptyDir mount, but the root filesystem is read-only", dir)
		} else if v.EmptyDir.SizeLimit == nil {
			t.Errorf("emptyDir %s has no sizeLimit", v.Name)
		}
	}

	// Resources sized for workers x batch: requests and a memory limit.
	req, lim := c.Resources.Requests, c.Resources.Limits
	memReq, memLim := req[corev1.ResourceMemory], lim[corev1.ResourceMemory]
	if memReq.IsZero() || memLim.IsZero() {
		t.Errorf("memory request %v limit %v, want both set", memReq.String(), memLim.String())
	} else if memReq.Cmp(memLim) > 0 {
		t.Errorf("memory request %v above its limit %v", memReq.String(), memLim.String())
	}
	if cpu := req[corev1.ResourceCPU]; cpu.IsZero() {
		t.Error("no cpu request")
	}
}

func TestJobEnvironment(t *testing.T) {
	m := loadManifests(t)
	job, c := theJob(t, m)
	pod := job.Spec.Template.Spec

	// Every ESRESTORE_* name, from env and from the ConfigMaps in envFrom.
	names := map[string]string{} // name -> where
	var runID *corev1.EnvVar
	for i, e := range c.Env {
		names[e.Name] = "job.yaml env"
		if e.Name == "ESRESTORE_RUN_ID" {
			runID = &c.Env[i]
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.Prefix != "" {
			t.Errorf("envFrom prefix %q: esrestore reads ESRESTORE_* names as they are", ef.Prefix)
		}
		if ef.SecretRef != nil {
			t.Errorf("envFrom secretRef %q: secrets are mounted files named by *_FILE, never environment values", ef.SecretRef.Name)
		}
		if ef.ConfigMapRef == nil {
			continue
		}
		cm := configMap(m, ef.ConfigMapRef.Name)
		if cm == nil {
			t.Errorf("envFrom ConfigMap %q is not in deploy/", ef.ConfigMapRef.Name)
			continue
		}
		if ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional {
			t.Errorf("envFrom ConfigMap %q is optional: a missing configuration must stop the pod", cm.Name)
		}
		for k := range cm.Data {
			if where, dup := names[k]; dup {
				t.Errorf("%s set in both %s and ConfigMap %s", k, where, cm.Name)
			}
			names[k] = "ConfigMap " + cm.Name
		}
	}
	for name, where := range names {
		if strings.HasPrefix(name, "ESRESTORE_") && !slices.Contains(knownEnv, name) {
			t.Errorf("%s (%s) is not one of esrestore's variables", name, where)
		}
		if strings.HasPrefix(name, "AWS_ACCESS_KEY") || strings.HasPrefix(name, "AWS_SECRET") || name == "AWS_SESSION_TOKEN" {
			t.Errorf("%s (%s): AWS credentials come from the ServiceAccount's role (IRSA) only", name, where)
		}
		if slices.Contains(secretEnv, name) {
			t.Errorf("%s (%s): a secret in the environment; mount it and use %s_FILE", name, where, name)
		}
	}
	for _, want := range []string{"ESRESTORE_ES_URL", "ESRESTORE_ORIGINAL", "ESRESTORE_SOURCE", "ESRESTORE_TARGET", "ESRESTORE_OUTPUT", "ESRESTORE_ENVIRONMENT"} {
		if _, ok := names[want]; !ok {
			t.Errorf("%s is not set", want)
		}
	}

	// The run id is fixed per Job, so a retried pod resumes the same run: a
	// literal, not a fieldRef (a pod's name or uid changes on every retry).
	switch {
	case runID == nil:
		t.Error("ESRESTORE_RUN_ID is not set in the Job: a retried pod would start a new run")
	case runID.ValueFrom != nil:
		t.Error("ESRESTORE_RUN_ID comes from valueFrom: it must be a literal fixed for the Job")
	case strings.TrimSpace(runID.Value) == "":
		t.Error("ESRESTORE_RUN_ID is empty")
	case !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`).MatchString(runID.Value):
		// The CLI's rule (cmd/esrestore/config.go runIDRE): anything else exits 2.
		t.Errorf("ESRESTORE_RUN_ID %q: esrestore takes letters, digits, ., _ or - (at most 64)", runID.Value)
	}

	// Secret files: each *_FILE (and the CA) points into a read-only mount of
	// a Secret that has that key.
	for _, e := range c.Env {
		if !slices.Contains(fileEnv, e.Name) {
			continue
		}
		dir, file := filepath.Split(e.Value)
		v := mountAt(pod, c, filepath.Clean(dir))
		if v == nil || v.Secret == nil {
			t.Errorf("%s=%s is not in a mounted Secret", e.Name, e.Value)
			continue
		}
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name && !vm.ReadOnly {
				t.Errorf("Secret volume %s is mounted writable", v.Name)
			}
		}
		key := file
		if len(v.Secret.Items) > 0 {
			key = ""
			for _, it := range v.Secret.Items {
				if it.Path == file {
					key = it.Key
				}
			}
			if key == "" {
				t.Errorf("%s=%s: no item of Secret %s has path %s", e.Name, e.Value, v.Secret.SecretName, file)
				continue
			}
		}
		s := secret(m, v.Secret.SecretName)
		if s == nil {
			t.Errorf("Secret %s (volume %s) is not in deploy/ (not even as an example)", v.Secret.SecretName, v.Name)
			continue
		}
		if _, ok := s.StringData[key]; !ok {
			t.Errorf("%s=%s: Secret %s has no key %s", e.Name, e.Value, s.Name, key)
		}
	}
}

func TestServiceAccountAndReferences(t *testing.T) {
	m := loadManifests(t)
	job, c := theJob(t, m)
	pod := job.Spec.Template.Spec

	var sa *corev1.ServiceAccount
	for _, s := range m.serviceAccounts {
		if s.Name == pod.ServiceAccountName {
			sa = s
		}
	}
	if sa == nil {
		t.Fatalf("serviceAccountName %q is not a ServiceAccount in deploy/", pod.ServiceAccountName)
	}
	arn := sa.Annotations["eks.amazonaws.com/role-arn"]
	if !regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`).MatchString(arn) {
		t.Errorf("ServiceAccount %s: eks.amazonaws.com/role-arn %q is not an IAM role ARN", sa.Name, arn)
	}

	// The Secret is an example: placeholders only, never a real value.
	for _, s := range m.secrets {
		if !strings.HasSuffix(m.files[s], ".example.yaml") {
			t.Errorf("Secret %s in %s: Secrets are kept out of the repository; only *.example.yaml", s.Name, m.files[s])
		}
		if len(s.Data) > 0 {
			t.Errorf("Secret %s has data: the example uses stringData placeholders", s.Name)
		}
		for k, v := range s.StringData {
			if !strings.Contains(v, "REPLACE_ME") {
				t.Errorf("Secret %s key %s is not a REPLACE_ME placeholder", s.Name, k)
			}
		}
	}

	// kustomization.yaml: lists every manifest but the examples, and names
	// the Job's image.
	k := m.kustomizations[0]
	for _, r := range k.Resources {
		if _, err := os.Stat(r); err != nil {
			t.Errorf("kustomization resource %s: %v", r, err)
		}
	}
	for obj, file := range m.files {
		if _, isK := obj.(*kustomization); isK || strings.HasSuffix(file, ".example.yaml") || file == promoteJobFile {
			continue
		}
		if !slices.Contains(k.Resources, file) {
			t.Errorf("%s is not in kustomization.yaml's resources", file)
		}
	}
	if !slices.ContainsFunc(k.Images, func(i kustomizeImage) bool { return i.Name == c.Image }) {
		t.Errorf("the Job's image %q is not in kustomization.yaml's images", c.Image)
	}
}

// iamPolicy is an IAM policy document; Action and Resource may be a string
// or a list.
type iamPolicy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Action    stringOrList
		Resource  stringOrList
		Condition map[string]map[string]stringOrList `json:",omitempty"`
	}
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

func readStrictJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	strictErrs, err := kjson.UnmarshalStrict(data, v)
	if err == nil {
		err = errors.Join(strictErrs...)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestIAMPolicy(t *testing.T) {
	cm := theConfigMap(t, loadManifests(t))
	tests := []struct {
		file    string
		actions []string
	}{
		// The report: PutObject covers the multipart calls (create, upload
		// part, complete); DeleteObject removes the preflight marker.
		// GenerateDataKey and Decrypt: SSE-KMS, Decrypt for multipart.
		{"iam-policy.json", []string{"kms:Decrypt", "kms:GenerateDataKey", "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"}},
		{"iam-policy-s3-source.json", []string{"kms:Decrypt", "s3:GetObject"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var p iamPolicy
			readStrictJSON(t, tt.file, &p)
			if p.Version != "2012-10-17" {
				t.Errorf("Version %q, want 2012-10-17", p.Version)
			}
			var actions, resources []string
			for _, st := range p.Statement {
				if st.Effect != "Allow" {
					t.Errorf("statement %s: Effect %q", st.Sid, st.Effect)
				}
				for _, a := range st.Action {
					if strings.Contains(a, "*") {
						t.Errorf("statement %s: wildcard action %q", st.Sid, a)
					}
				}
				for _, r := range st.Resource {
					if r == "*" || strings.HasPrefix(r, "arn:aws:s3:::*") {
						t.Errorf("statement %s: resource %q is not scoped", st.Sid, r)
					}
					if strings.HasPrefix(r, "arn:aws:s3:::") && strings.Count(r, "/") < 2 {
						t.Errorf("statement %s: resource %q covers a whole bucket, not a prefix", st.Sid, r)
					}
				}
				if slices.ContainsFunc([]string(st.Action), func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
					if _, ok := st.Condition["StringEquals"]["kms:ViaService"]; !ok {
						t.Errorf("statement %s: KMS use not limited to S3 (kms:ViaService)", st.Sid)
					}
				}
				actions = append(actions, st.Action...)
				resources = append(resources, st.Resource...)
			}
			slices.Sort(actions)
			if !slices.Equal(actions, tt.actions) {
				t.Errorf("actions %q, want exactly %q", actions, tt.actions)
			}
			if tt.file != "iam-policy.json" {
				return
			}
			// The policy covers the configured output and KMS key.
			out := strings.TrimSuffix(strings.TrimPrefix(cm.Data["ESRESTORE_OUTPUT"], "s3://"), "/")
			if want := "arn:aws:s3:::" + out + "/*"; !slices.Contains(resources, want) {
				t.Errorf("resources %q do not include %s, the configured ESRESTORE_OUTPUT", resources, want)
			}
			if key := cm.Data["ESRESTORE_S3_KMS_KEY_ID"]; key != "" && !slices.Contains(resources, key) {
				t.Errorf("resources %q do not include the configured ESRESTORE_S3_KMS_KEY_ID %s", resources, key)
			}
		})
	}
}

// esRole is the body of PUT _security/role/<name>, the fields deploy/ uses;
// anything else (run_as, applications, remote_indices) fails the decoding.
type esRole struct {
	Description string   `json:"description"`
	Cluster     []string `json:"cluster"`
	Indices     []struct {
		Names                  []string `json:"names"`
		Privileges             []string `json:"privileges"`
		AllowRestrictedIndices bool     `json:"allow_restricted_indices"`
	} `json:"indices"`
	Metadata map[string]string `json:"metadata"`
}

func TestESRole(t *testing.T) {
	cm := theConfigMap(t, loadManifests(t))
	var r esRole
	readStrictJSON(t, "es-role.json", &r)

	wantCluster := []string{"cluster:admin/snapshot/restore", "cluster:monitor/main", "monitor_snapshot"}
	got := slices.Sorted(slices.Values(r.Cluster))
	if !slices.Equal(got, wantCluster) {
		t.Errorf("cluster privileges %q, want %q", got, wantCluster)
	}
	privs := map[string][]string{}
	for _, ix := range r.Indices {
		if ix.AllowRestrictedIndices {
			t.Errorf("indices %q: allow_restricted_indices", ix.Names)
		}
		for _, n := range ix.Names {
			if n == "*" || n == "_all" {
				t.Errorf("index name %q: not scoped", n)
			}
			privs[n] = slices.Sorted(slices.Values(ix.Privileges))
		}
		for _, p := range ix.Privileges {
			if p == "all" || strings.Contains(p, "*") || strings.HasPrefix(p, "indices:") {
				t.Errorf("indices %q: privilege %q", ix.Names, p)
			}
		}
	}
	original, target := cm.Data["ESRESTORE_ORIGINAL"], cm.Data["ESRESTORE_TARGET"]
	for _, tt := range []struct {
		index string
		want  []string
	}{
		// Never a write privilege on the original: esrestore only reads it.
		{original, []string{"read", "view_index_metadata"}},
		{target, []string{"auto_configure", "create_index", "index", "manage", "read", "view_index_metadata"}},
		{"esrestore-staging-*", []string{"delete_index", "read", "view_index_metadata"}},
		// The restore writes through the target's writer alias.
		{target + ".esrestore-writer", []string{"auto_configure", "create_index", "index", "manage", "read", "view_index_metadata"}},
		// The run id's lease.
		{"esrestore-leases", []string{"create_index", "delete", "index", "read", "view_index_metadata"}},
	} {
		if got, ok := privs[tt.index]; !ok {
			t.Errorf("no privileges for index %q", tt.index)
		} else if !slices.Equal(got, tt.want) {
			t.Errorf("index %q privileges %q, want %q", tt.index, got, tt.want)
		}
	}
	if original == target {
		t.Errorf("ESRESTORE_ORIGINAL and ESRESTORE_TARGET are both %q", original)
	}
}

func configMap(m *manifests, name string) *corev1.ConfigMap {
	for _, cm := range m.configMaps {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

func secret(m *manifests, name string) *corev1.Secret {
	for _, s := range m.secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// theConfigMap is the ConfigMap the Job takes its environment from.
func theConfigMap(t *testing.T, m *manifests) *corev1.ConfigMap {
	t.Helper()
	_, c := theJob(t, m)
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			if cm := configMap(m, ef.ConfigMapRef.Name); cm != nil {
				return cm
			}
		}
	}
	t.Fatal("the Job takes no ConfigMap from deploy/")
	return nil
}

// mountAt returns the volume mounted at dir in container c, if any.
func mountAt(pod corev1.PodSpec, c *corev1.Container, dir string) *corev1.Volume {
	for _, vm := range c.VolumeMounts {
		if filepath.Clean(vm.MountPath) != dir {
			continue
		}
		for i := range pod.Volumes {
			if pod.Volumes[i].Name == vm.Name {
				return &pod.Volumes[i]
			}
		}
	}
	return nil
}

// dockerfileUserAndWorkdir reads the final stage's USER uid and WORKDIR.
func dockerfileUserAndWorkdir(t *testing.T) (uid int64, workdir string) {
	t.Helper()
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var user string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			user, workdir = "", "" // a new stage
		case "USER":
			user = f[1]
		case "WORKDIR":
			workdir = f[1]
		}
	}
	uid, err = strconv.ParseInt(strings.SplitN(user, ":", 2)[0], 10, 64)
	if err != nil || uid == 0 {
		t.Fatalf("Dockerfile final stage USER %q: want a numeric non-root uid (runAsNonRoot verifies only numbers)", user)
	}
	if workdir == "" {
		t.Fatal("Dockerfile final stage has no WORKDIR")
	}
	return uid, workdir
}

// promoteJobFile is the promote Job, applied on its own after review: it is
// not in kustomization.yaml, so that applying the run never promotes.
const promoteJobFile = "promote-job.yaml"

func TestPromoteJob(t *testing.T) {
	m := loadManifests(t)
	if len(m.promoteJobs) != 1 {
		t.Fatalf("%d Jobs in %s, want 1", len(m.promoteJobs), promoteJobFile)
	}
	job := m.promoteJobs[0]
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Command) != 0 || !slices.Equal(c.Args, []string{"promote"}) {
		t.Errorf("command %q args %q, want the entrypoint with args [promote]", c.Command, c.Args)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever || job.Spec.PodFailurePolicy == nil {
		t.Fatalf("restartPolicy %q, podFailurePolicy %v: want Never and a policy by exit code", pod.RestartPolicy, job.Spec.PodFailurePolicy)
	}
	// A failed check (2) fails at once; errors and interruptions are
	// retried, since promote resumes.
	failJob := map[int32]bool{}
	for _, r := range job.Spec.PodFailurePolicy.Rules {
		if e := r.OnExitCodes; e != nil && r.Action == batchv1.PodFailurePolicyActionFailJob && e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn {
			for _, v := range e.Values {
				failJob[v] = true
			}
		}
	}
	for code, want := range map[int32]bool{1: false, 2: true, 130: false} {
		if failJob[code] != want {
			t.Errorf("exit code %d fails the promote Job at once: %v, want %v", code, failJob[code], want)
		}
	}
	if job.Namespace != "esrestore" {
		t.Errorf("namespace %q: applied without kustomize, it must name esrestore", job.Namespace)
	}
	k := m.kustomizations[0]
	if slices.Contains(k.Resources, promoteJobFile) {
		t.Errorf("%s is in kustomization.yaml: applying the run would promote before review", promoteJobFile)
	}
	if !slices.ContainsFunc(k.Images, func(i kustomizeImage) bool { return i.NewName+":"+i.NewTag == c.Image }) {
		t.Errorf("image %q is not the one kustomization.yaml gives the run", c.Image)
	}

	// The same run: the run id of job.yaml, a literal.
	_, runC := theJob(t, m)
	runID := func(c *corev1.Container) string {
		for _, e := range c.Env {
			if e.Name == "ESRESTORE_RUN_ID" && e.ValueFrom == nil {
				return e.Value
			}
		}
		return ""
	}
	if got, want := runID(&c), runID(runC); got == "" || got != want {
		t.Errorf("ESRESTORE_RUN_ID %q, want the run's %q", got, want)
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "ESRESTORE_") && !slices.Contains(knownEnv, e.Name) {
			t.Errorf("%s is not one of esrestore's variables", e.Name)
		}
		if slices.Contains(secretEnv, e.Name) {
			t.Errorf("%s: a secret in the environment; mount it and use %s_FILE", e.Name, e.Name)
		}
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || configMap(m, c.EnvFrom[0].ConfigMapRef.Name) == nil {
		t.Errorf("envFrom %+v: want the run's ConfigMap, so promote finds the run's report", c.EnvFrom)
	}

	// Hardened like the run's pod.
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("security contexts pod %+v container %+v: want non-root, read-only root, no escalation, drop ALL", psc, csc)
	}
	if v := mountAt(pod, &c, "/tmp"); v == nil || v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
		t.Error("/tmp is not a sized emptyDir: the catch-up writes its diff there")
	}
	if mem := c.Resources.Limits[corev1.ResourceMemory]; mem.IsZero() {
		t.Error("no memory limit")
	}
}
