package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/esrestore/esrestore/report"
)

// Outcomes of a run as a notification names them, each with its colour
// (Slack's attachment colours: good, warning, danger, and two of ours).
const (
	NotifyStarted = "started"
	NotifySuccess = "success"
	NotifyReview  = "review"
	NotifyFailure = "failure"
	NotifyAborted = "aborted"
)

// NotifyColours are the outcomes' colours.
var NotifyColours = map[string]string{
	NotifyStarted: "#439FE0",
	NotifySuccess: "#2EB67D",
	NotifyReview:  "#ECB22E",
	NotifyFailure: "#E01E5A",
	NotifyAborted: "#868686",
}

// notifyTimeout bounds one post: a slow webhook must not hold up a job.
const notifyTimeout = 10 * time.Second

// WebhookMessage is a Slack incoming-webhook payload; Mattermost, Rocket
// Chat and Teams' Slack-compatible hooks read the same fields.
type WebhookMessage struct {
	Text        string              `json:"text"`
	Attachments []WebhookAttachment `json:"attachments"`
}

// WebhookAttachment is the message's one attachment: the outcome's
// colour and the run's fields.
type WebhookAttachment struct {
	Color    string         `json:"color"`
	Fallback string         `json:"fallback"`
	Fields   []WebhookField `json:"fields"`
}

// WebhookField is one field of the attachment: environment, outcome,
// run id, verdict, report.
type WebhookField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// what names the run in a notification: "PROD: esrestore documents →
// documents_20211202".
func (j *Job) what() string {
	s := j.summary
	target := s.Target
	if target == "" {
		target = s.Restored
	}
	w := fmt.Sprintf("%s: esrestore %s", s.Environment, s.Original)
	if j.cmd != "run" && j.cmd != "demo" {
		w = fmt.Sprintf("%s: esrestore %s %s", s.Environment, j.cmd, s.Original)
	}
	if target != "" {
		w += " → " + target
	}
	if s.DryRun {
		w += " (dry run)"
	}
	return w
}

// notifyStart posts that the run has started, once its guard rails
// passed.
func (j *Job) notifyStart(ctx context.Context) {
	if j.cfg.Notify == "" {
		return
	}
	j.summary.Notify = &report.Notify{}
	// A go/no-go message: what will run, and the fingerprint a second
	// person compares with the one check printed.
	text := fmt.Sprintf("%s started (run %s, source %s)", j.what(), j.cfg.RunID, j.summary.Source)
	if sha := j.summary.ConfigSHA256; sha != "" {
		text += "\nconfig_sha256 " + sha
	}
	if err := j.post(ctx, NotifyStarted, text); err == nil {
		j.summary.Notify.Started = true
	}
}

// notifyEnd posts how the run ended: err is the job's error, failOn the
// --fail-on hit (the report is complete, a reviewer decides). It goes
// after summary.json, whose sha256 it carries; the summary's
// notify.finished therefore stays false, and the "notification sent"
// record says the end message went.
func (j *Job) notifyEnd(ctx context.Context, err, failOn error) {
	if j.cfg.Notify == "" {
		return
	}
	if j.summary.Notify == nil {
		j.summary.Notify = &report.Notify{}
	}
	s := j.summary
	outcome, text := NotifySuccess, j.what()+" finished: "
	switch {
	case err != nil && isInterrupted(err):
		outcome, text = NotifyAborted, j.what()+" interrupted: "+err.Error()
	case err != nil:
		outcome, text = NotifyFailure, j.what()+" failed: "+err.Error()
	default:
		var parts []string
		if o := s.Outcome; o != nil {
			parts = append(parts, fmt.Sprintf("%d restored, %d would be lost", o.Added+o.Recovered, o.Removed))
		} else if r := s.Restore; r != nil {
			parts = append(parts, fmt.Sprintf("%d restored, %d failed", r.Indexed, r.Failed))
		}
		parts = append(parts, "verdict "+s.Verdict.Status)
		text += strings.Join(parts, ", ")
		if s.Verdict.Status != report.StatusOK || failOn != nil {
			outcome = NotifyReview
		}
	}
	if s.Location != "" {
		text += "\nreport: " + s.Location
	}
	if sha := j.SummarySHA256(); sha != "" {
		text += "\nsummary.json sha256 " + sha
	}
	j.post(ctx, outcome, text)
}

// post sends one message. A failed post is a warning, never the job's
// error, and neither the log nor the summary ever shows the URL.
func (j *Job) post(ctx context.Context, outcome, text string) error {
	s := j.summary
	fields := []WebhookField{
		{Title: "environment", Value: s.Environment, Short: true},
		{Title: "outcome", Value: outcome, Short: true},
		{Title: "run id", Value: s.RunID, Short: true},
	}
	if outcome == NotifyStarted && s.ConfigSHA256 != "" {
		fields = append(fields, WebhookField{Title: "config_sha256", Value: s.ConfigSHA256})
	}
	if s.Verdict.Status != "" && outcome != NotifyStarted {
		fields = append(fields, WebhookField{Title: "verdict", Value: s.Verdict.Line()})
	}
	if s.Location != "" {
		fields = append(fields, WebhookField{Title: "report", Value: s.Location})
	}
	if sha := j.SummarySHA256(); sha != "" && outcome != NotifyStarted {
		fields = append(fields, WebhookField{Title: "summary_sha256", Value: sha})
	}
	msg := WebhookMessage{Text: text, Attachments: []WebhookAttachment{{
		Color: NotifyColours[outcome], Fallback: text, Fields: fields,
	}}}
	body, err := json.Marshal(msg)
	if err == nil {
		err = postWebhook(ctx, j.cfg.Notify, body)
	}
	if err != nil {
		j.summary.Notify.Error = fmt.Sprintf("%s message: %v", outcome, err)
		j.log.Warn("notification not sent", "event", outcome, "error", err.Error())
		return err
	}
	j.log.Info("notification sent", "event", outcome)
	return nil
}

// postWebhook posts body to the webhook, on a context of its own so that
// an interrupted run still says so. Its errors never carry the URL.
func postWebhook(ctx context.Context, hook string, body []byte) error {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodPost, strings.TrimSpace(hook), bytes.NewReader(body))
	if err != nil {
		return errors.New("--notify: not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error quotes the whole URL, token and all.
			return fmt.Errorf("post to the --notify webhook: %w", ue.Err)
		}
		return errors.New("post to the --notify webhook failed")
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("the --notify webhook answered %s: %s", res.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}
