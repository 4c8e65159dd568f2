package job

import (
	"context"
	"fmt"

	"github.com/esrestore/esrestore/s3out"
)

// Check runs the guard rails, takes the fingerprint (Summary's
// ConfigSHA256), and leaves config.json, the configuration it vouches
// for, where the run's report goes.
func (j *Job) Check(ctx context.Context) error {
	err := j.check(ctx)
	if err != nil {
		j.logConfig()
	}
	return err
}

// check runs the guard rails, takes the fingerprint, and leaves
// config.json, the configuration it vouches for, where the run's report
// goes.
func (j *Job) check(ctx context.Context) error {
	if err := j.openReport(ctx); err != nil {
		return err
	}
	if err := j.loadScope(ctx); err != nil {
		return err
	}
	if err := j.connect(ctx); err != nil {
		return err
	}
	if _, _, err := j.checkRestore(ctx); err != nil {
		return err
	}
	if err := j.identify(ctx); err != nil {
		return err
	}
	// check makes the fingerprint the run is held to: it tells whether it
	// is the one expected, and what differs, but refuses nothing for it.
	if j.cfg.ExpectConfig != "" {
		if err := j.expectConfig(ctx); err != nil {
			j.log.Warn("the configuration is not the one --expect-config names: the run would exit 2", "error", err.Error())
		} else {
			j.log.Info("the configuration is the one --expect-config names", "config_sha256", j.summary.ConfigSHA256)
		}
	}
	if err := j.report.WriteJSON(ctx, s3out.ConfigName, j.record()); err != nil {
		return GuardError(fmt.Errorf("--output: write %s: %w", j.report.URL(s3out.ConfigName), err))
	}
	return nil
}
