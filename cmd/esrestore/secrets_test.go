package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/esrestore/esrestore/fixtures"
	"github.com/esrestore/esrestore/internal/dump"
	"github.com/esrestore/esrestore/internal/s3test"
	"github.com/esrestore/esrestore/report"
)

// TestSecretsNeverShown runs the job with known secrets in the
// Elasticsearch URLs and the AWS environment, to S3, and searches every
// output a person or a log system sees: stdout, stderr and every object of
// the report.
func TestSecretsNeverShown(t *testing.T) {
	es, _ := lossCluster(t, 300)
	srv := s3test.Start(t)
	srv.SetEnv(t)
	bucket := srv.NewBucket(t, "review")
	const esPass, srcPass = "Sup3rSecretPW-es", "Sup3rSecretPW-src"
	secrets := []string{esPass, srcPass, srv.SecretKey}

	esURL := strings.Replace(es.URL, "http://", "http://elastic:"+esPass+"@", 1)
	source := strings.Replace(es.URL, "http://", "http://reader:"+srcPass+"@", 1) + "/documents"
	c := newCLI(t)
	c.vars["ESRESTORE_LOG_LEVEL"] = "debug"
	c.vars["ESRESTORE_LOG_FORMAT"] = "json"
	args := []string{"run", "--es-url", esURL, "--original", "documents", "--source", source, "--target", "documents_restored",
		"--output", "s3://" + bucket + "/reports", "--s3-endpoint", srv.Endpoint, "--environment", "prod", "--run-id", "s1", "--progress", "10ms"}
	var outputs []string
	if code := c.run(t.Context(), args...); code != exitOK {
		t.Fatalf("run to S3: exit %d\n%s", code, c.stderr.String())
	}
	outputs = append(outputs, c.stdout.String(), c.stderr.String())
	if !strings.Contains(c.stdout.String(), "s3://"+bucket+"/reports/documents/s1") {
		t.Errorf("stdout does not name the report: %q", c.stdout.String())
	}
	logs, _, _ := strings.Cut(c.stderr.String(), "\nesrestore run · ")
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("--log-format json wrote a line that is not JSON: %q", line)
			break
		}
	}

	keys := srv.Keys(t, bucket, "reports/")
	want := []string{"reports/documents/s1/diff.ndjson.gz", "reports/documents/s1/failures.ndjson.gz",
		"reports/documents/s1/report.html", "reports/documents/s1/summary.json"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("objects %v, want %v", keys, want)
	}
	for _, k := range keys {
		obj, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if strings.HasSuffix(k, ".gz") {
			if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				b, _ = io.ReadAll(zr)
			}
		}
		outputs = append(outputs, string(b))
	}

	// Failing runs must not show them either: a wrong bucket, a bad AWS
	// secret, an unreachable cluster with credentials in its URL.
	failing := [][]string{
		replaceArg(args, "--output", "s3://no-such-bucket-esr/reports"),
		replaceArg(args, "--es-url", "http://elastic:"+esPass+"@127.0.0.1:1"),
		replaceArg(args, "--source", "http://reader:"+srcPass+"@127.0.0.1:1/documents"),
	}
	for _, a := range failing {
		if code := c.run(t.Context(), a...); code != exitUsage {
			t.Errorf("failing run: exit %d, want 2\n%s", code, c.stderr.String())
		}
		outputs = append(outputs, c.stdout.String(), c.stderr.String())
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-"+srv.SecretKey)
	secrets = append(secrets, "wrong-"+srv.SecretKey)
	if code := c.run(t.Context(), replaceArg(args, "--run-id", "s2")...); code != exitUsage {
		t.Errorf("bad AWS secret: exit %d, want 2\n%s", code, c.stderr.String())
	}
	outputs = append(outputs, c.stdout.String(), c.stderr.String())

	for i, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output %d shows a secret (%d chars): %.300s", i, len(s), out)
			}
		}
	}
}

func replaceArg(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag {
			out[i+1] = value
		}
	}
	return out
}

// TestDiffOfS3Dumps diffs two NDJSON dumps read from S3, the report
// written back to S3: a reviewer's offline check with no cluster.
func TestDiffOfS3Dumps(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	bucket := srv.NewBucket(t, "dumps")
	sc := fixtures.NewScenario(200, 0.1, 11)
	put := func(key string, docs []fixtures.Doc) string {
		var b []byte
		for _, d := range docs {
			b = dump.AppendLine(b, dump.Doc{Index: "documents", ID: d.ID, Source: d.Source})
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(b)
		zw.Close()
		if _, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: bytes.NewReader(gz.Bytes())}); err != nil {
			t.Fatal(err)
		}
		return "s3://" + bucket + "/" + key
	}
	orig, backup := put("live/documents.ndjson.gz", sc.Original), put("backup/documents.ndjson.gz", sc.Complete)
	c := newCLI(t)
	code := c.run(t.Context(), "diff", "--original", orig, "--restored", backup, "--output", "s3://"+bucket+"/reports",
		"--s3-endpoint", srv.Endpoint, "--run-id", "s3d", "--progress", "0", "--fail-on", "none")
	if code != exitOK {
		t.Fatalf("diff of S3 dumps: exit %d\n%s", code, c.stderr.String())
	}
	obj, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("reports/documents/s3d/summary.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	var s report.Summary
	if err := json.NewDecoder(obj.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if !s.Complete || s.Outcome.Added != int64(len(sc.Lost)) || s.Outcome.Recovered != int64(len(sc.Stripped)) {
		t.Errorf("summary: complete %v outcome %+v", s.Complete, s.Outcome)
	}
}
