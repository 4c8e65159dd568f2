package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/esrestore/esrestore/job"
)

// hookReceiver is a local incoming-webhook endpoint that records what it
// is posted and answers with status.
type hookReceiver struct {
	mu     sync.Mutex
	posts  []job.WebhookMessage
	status int
}

func newHookReceiver(t *testing.T, status int) (*hookReceiver, string) {
	t.Helper()
	h := &hookReceiver{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m job.WebhookMessage
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &m) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.posts = append(h.posts, m)
		h.mu.Unlock()
		w.WriteHeader(h.status)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	// The path stands for the webhook's secret token.
	return h, srv.URL + "/services/T000/B000/XyzzyHookToken"
}

func (h *hookReceiver) messages() []job.WebhookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]job.WebhookMessage(nil), h.posts...)
}

func TestNotify(t *testing.T) {
	es, sc := lossCluster(t, 400)
	out := t.TempDir()
	c := newCLI(t)
	hook, url := newHookReceiver(t, http.StatusOK)
	// The _FILE form, as a mounted Secret gives it.
	c.vars["ESRESTORE_NOTIFY_FILE"] = "/run/secrets/notify"
	c.files["/run/secrets/notify"] = url + "\n"
	if code := c.run(t.Context(), runArgs(es, out, "n1", "--prefer", "source", "--environment", "prod")...); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	msgs := hook.messages()
	if len(msgs) != 2 {
		t.Fatalf("the webhook got %d messages, want started and finished: %+v", len(msgs), msgs)
	}
	start, end := msgs[0], msgs[1]
	if !strings.HasPrefix(start.Text, "PROD: esrestore documents → documents_restored started") ||
		start.Attachments[0].Color != job.NotifyColours[job.NotifyStarted] {
		t.Errorf("start message: %+v", start)
	}
	restored := len(sc.Lost) + len(sc.Stripped)
	want := "PROD: esrestore documents → documents_restored finished: " + itoa(restored) + " restored, 0 would be lost, verdict ok"
	if !strings.HasPrefix(end.Text, want) || end.Attachments[0].Color != job.NotifyColours[job.NotifySuccess] {
		t.Errorf("end message %q (colour %s), want it to start %q in %s", end.Text, end.Attachments[0].Color, want, job.NotifyColours[job.NotifySuccess])
	}
	report := "file://" + filepath.Join(out, "documents", "n1")
	if !strings.Contains(end.Text, report) {
		t.Errorf("end message does not name the report %s: %q", report, end.Text)
	}
	s := readSummary(t, out, "documents", "n1")
	if s.Notify == nil || !s.Notify.Started || s.Notify.Error != "" {
		t.Errorf("summary notify: %+v", s.Notify)
	}
	// The end message goes after summary.json and carries its sha256, of
	// the object as stored.
	stored, err := os.ReadFile(filepath.Join(out, "documents", "n1", "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	sha := fmt.Sprintf("%x", sha256.Sum256(stored))
	if !strings.Contains(end.Text, "\nsummary.json sha256 "+sha) {
		t.Errorf("end message %q lacks the summary's sha256 %s", end.Text, sha)
	}
	if i := slices.IndexFunc(end.Attachments[0].Fields, func(f job.WebhookField) bool { return f.Title == "summary_sha256" }); i < 0 || end.Attachments[0].Fields[i].Value != sha {
		t.Errorf("end message fields %+v lack summary_sha256 %s", end.Attachments[0].Fields, sha)
	}
	if strings.Contains(start.Text, "summary.json sha256") {
		t.Errorf("start message %q has a summary sha256 before any summary", start.Text)
	}
	// The go/no-go message: the environment first, what will run, and the
	// fingerprint a second person compares with check's.
	for _, want := range []string{"source snapshot:backups/before-loss", "config_sha256 " + s.ConfigSHA256} {
		if s.ConfigSHA256 == "" || !strings.Contains(start.Text, want) {
			t.Errorf("start message %q lacks %q", start.Text, want)
		}
	}

	// A review outcome has its own colour.
	if code := c.run(t.Context(), runArgs(es, out, "n2", "--target", "documents_n2")...); code != exitFailOn {
		t.Fatalf("prefer original: exit %d, want 3\n%s", code, c.stderr.String())
	}
	if m := hook.messages(); len(m) != 4 || m[3].Attachments[0].Color != job.NotifyColours[job.NotifyReview] || !strings.Contains(m[3].Text, "verdict review") {
		t.Errorf("review message: %+v", m[len(m)-1])
	}
	// A failed guard rail is a failure, and says why.
	if code := c.run(t.Context(), runArgs(es, out, "n3", "--original", "nope")...); code != exitUsage {
		t.Fatalf("missing original: exit %d", code)
	}
	if m := hook.messages(); len(m) != 5 || m[4].Attachments[0].Color != job.NotifyColours[job.NotifyFailure] || !strings.Contains(m[4].Text, "failed: ") {
		t.Errorf("failure message: %+v", m[len(m)-1])
	}

	// The URL is a secret: nowhere in what the runs showed or wrote.
	shown := c.stdout.String() + c.stderr.String()
	b, _ := os.ReadFile(filepath.Join(out, "documents", "n1", "summary.json"))
	for _, where := range []string{shown, string(b)} {
		if strings.Contains(where, "XyzzyHookToken") {
			t.Errorf("the webhook URL leaked: %s", where)
		}
	}
}

// TestNotifyFailureIsAWarning: a webhook that refuses the message, or is
// not there, never fails the run, and its error hides the URL.
func TestNotifyFailureIsAWarning(t *testing.T) {
	es, _ := lossCluster(t, 200)
	out := t.TempDir()
	c := newCLI(t)
	_, url := newHookReceiver(t, http.StatusInternalServerError)
	for i, hookURL := range []string{url, "http://127.0.0.1:1/services/T000/B000/XyzzyHookToken"} {
		runID := "w" + itoa(i)
		c.vars["ESRESTORE_NOTIFY"] = hookURL
		if code := c.run(t.Context(), runArgs(es, out, runID, "--prefer", "source", "--target", "documents_"+runID)...); code != exitOK {
			t.Fatalf("%s: a failed notification failed the run: exit %d\n%s", hookURL, code, c.stderr.String())
		}
		if !strings.Contains(c.text(), "notification not sent") {
			t.Errorf("%s: no warning:\n%s", hookURL, c.text())
		}
		s := readSummary(t, out, "documents", runID)
		if s.Notify == nil || s.Notify.Started || s.Notify.Error == "" {
			t.Errorf("%s: summary notify %+v, want nothing sent and an error", hookURL, s.Notify)
		}
		b, _ := os.ReadFile(filepath.Join(out, "documents", runID, "summary.json"))
		if strings.Contains(c.stderr.String()+string(b), "XyzzyHookToken") {
			t.Errorf("%s: the webhook URL leaked into the logs or the summary", hookURL)
		}
	}
	// A malformed URL is a configuration error that does not show it.
	c.vars["ESRESTORE_NOTIFY"] = "ftp://XyzzyHookToken"
	if code := c.run(t.Context(), runArgs(es, out, "w9")...); code != exitUsage || !strings.Contains(c.text(), "ESRESTORE_NOTIFY: must be an http(s) webhook URL") ||
		strings.Contains(c.stderr.String(), "XyzzyHookToken") {
		t.Errorf("bad --notify: exit %d\n%s", code, c.stderr.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
