package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// RecordName is the record's object name, beside summary.json.
const RecordName = "promote.json"

// Record states, in the order a promote reaches them.
const (
	// StateCatchingUp: the checks passed and the catch-up started; the
	// aliases are still on the original (and it may be write-blocked).
	StateCatchingUp = "catching-up"
	// StateSwitching: the catch-up is done and the _aliases call is about
	// to be sent; the aliases are on one index or the other.
	StateSwitching = "switching"
	// StatePromoted: the aliases are on the target.
	StatePromoted = "promoted"
	// StateRollingBack: a rollback is about to move the aliases back.
	StateRollingBack = "rolling-back"
	// StateRolledBack: the aliases are on the original again.
	StateRolledBack = "rolled-back"
	// StateDryRun is the state of a dry run's result, never written.
	StateDryRun = "dry-run"
)

// Record is promote.json: what was promoted, by whom, when, and with which
// catch-up. A promote rewrites it at each step, so after an interruption
// it says how far the last attempt got.
type Record struct {
	State       string `json:"state"`
	RunID       string `json:"run_id"`
	Environment string `json:"environment"`
	// Original and Target are the indexes the aliases move from and to.
	Original     string `json:"original"`
	OriginalUUID string `json:"original_uuid"`
	Target       string `json:"target"`
	TargetUUID   string `json:"target_uuid"`
	// Summary identifies the reviewed report.
	Summary SummaryRef `json:"summary"`
	// Accepted are the verdict reasons the operator accepted (--accept).
	Accepted []string `json:"accepted"`
	Who      Who      `json:"who"`
	// Aliases are the moves, with each alias's definition on the original.
	Aliases []AliasMove `json:"aliases"`
	// Actions is the body of the _aliases call that switched them.
	Actions json.RawMessage `json:"aliases_body,omitempty"`
	Block   *Block          `json:"block_writes,omitempty"`
	CatchUp *CatchUp        `json:"catch_up,omitempty"`
	// Started is when this promote began; Switched when the _aliases call
	// was acknowledged; Finished when the record was completed.
	Started  time.Time  `json:"started"`
	Switched *time.Time `json:"switched,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	// Attempts counts the promote runs that wrote this record: more than
	// one means a rerun resumed an interrupted promote.
	Attempts    int       `json:"attempts"`
	ToolVersion string    `json:"tool_version"`
	Rollback    *Rollback `json:"rollback,omitempty"`
}

// SummaryRef identifies the summary a promote acted on.
type SummaryRef struct {
	URL     string   `json:"url"`
	SHA256  string   `json:"sha256"`
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
}

// Who is who promoted: the environment, the operator as the process knows
// it, and the identity Elasticsearch reports for the credentials used.
type Who struct {
	Environment string    `json:"environment"`
	Operator    string    `json:"operator,omitempty"`
	ES          *Identity `json:"es_identity,omitempty"`
	// ESNote says why ES is empty: security disabled, or no privilege.
	ESNote string `json:"es_identity_note,omitempty"`
}

// Identity is GET /_security/_authenticate, the parts worth keeping.
type Identity struct {
	Username           string   `json:"username"`
	Roles              []string `json:"roles,omitempty"`
	Realm              string   `json:"realm,omitempty"`
	AuthenticationType string   `json:"authentication_type,omitempty"`
	APIKeyID           string   `json:"api_key_id,omitempty"`
	APIKeyName         string   `json:"api_key_name,omitempty"`
}

// AliasMove is one alias moved from the original to the target.
type AliasMove struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
	// Definition is the alias's definition on the original as GET
	// /_alias answered it (filter, routing, is_write_index, is_hidden);
	// the target gets the same, and a rollback puts it back.
	Definition json.RawMessage `json:"definition"`
}

// Block records the write block of Options.BlockWrites.
type Block struct {
	// Set is true once promote set index.blocks.write on the original.
	Set bool `json:"set"`
	// AlreadyBlocked means the original was write-blocked before promote:
	// promote neither set nor removes the block.
	AlreadyBlocked bool `json:"already_blocked,omitempty"`
	// Removed is true once promote removed the block it set.
	Removed bool   `json:"removed"`
	Error   string `json:"error,omitempty"`
	// SetAt and RemovedAt time the block; Seconds is how long the
	// original refused writes.
	SetAt     *time.Time `json:"set_at,omitempty"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
	Seconds   float64    `json:"seconds,omitempty"`
}

// Guard is a point in time of the target, by id (an opaque handle, no
// secret) and the time it was opened.
type Guard struct {
	Index string    `json:"index"`
	PIT   string    `json:"pit"`
	At    time.Time `json:"at"`
}

// Round is one catch-up round: a fresh diff of the original at one
// instant against the target, and the writes that brought the difference
// across.
type Round struct {
	// N counts from 1; Final is the round after the switch (or, with a
	// write block, the one under it).
	N     int  `json:"n"`
	Final bool `json:"final"`
	// Instant is the moment the original was read at.
	Instant time.Time `json:"instant"`
	New     int64     `json:"new"`
	Changed int64     `json:"changed"`
	Deleted int64     `json:"deleted"`
	Indexed int64     `json:"indexed"`
	Removed int64     `json:"removed"`
	// KeptApplication are writes the application made to the target
	// after the switch that the round left in place.
	KeptApplication int64   `json:"kept_application"`
	Failed          int64   `json:"failed"`
	Seconds         float64 `json:"seconds"`
}

// CatchUp counts what the catch-up found and did.
type CatchUp struct {
	// Method is how the writes since the run were found: "diff", a fresh
	// diff original → target compared with the reviewed one.
	Method string `json:"method"`
	// Reviewed and Fresh count the lines of the reviewed and the fresh diff.
	Reviewed int64 `json:"reviewed_lines"`
	Fresh    int64 `json:"fresh_lines"`
	// New, Changed and Deleted count the documents the original received,
	// changed and lost since the run.
	New     int64 `json:"new"`
	Changed int64 `json:"changed"`
	Deleted int64 `json:"deleted"`
	// KeptRecovered are documents deleted from the original (or gone by
	// the time they were read) that the report recovered or added: left in
	// the target.
	KeptRecovered int64 `json:"kept_recovered"`
	// Superseded are documents the report changed (recovered, overwritten,
	// added or removed) that the original wrote since: the live version
	// replaced what the reviewer saw.
	Superseded int64 `json:"superseded"`
	// Indexed and Removed are the target's documents written and deleted;
	// Failed the bulk items Elasticsearch rejected.
	Indexed int64 `json:"indexed"`
	Removed int64 `json:"removed"`
	Failed  int64 `json:"failed"`
	// KeptApplication are the final round's writes the target refused
	// because the application had written the document since the switch:
	// its write stands.
	KeptApplication int64 `json:"kept_application"`
	// Rounds are the rounds, in order; the last is the final one.
	Rounds []Round `json:"rounds"`
	// LagAtSwitch is what the final round found: documents the original
	// took between the last round before the switch and the switch.
	LagAtSwitch int64 `json:"lag_at_switch"`
	// Guard is the target's point in time at the switch, which the final
	// round's writes are conditional on: a rerun of a promote interrupted
	// between the switch and the final round adopts it (it lives
	// GuardKeepAlive without a reader).
	Guard *Guard `json:"guard,omitempty"`
	// LateWrites counts the documents the original took after the final
	// round: written to the index, not the alias, they are not in the
	// target (promote fails with ErrLateWrites when it is not 0).
	LateWrites int64 `json:"late_writes"`
	// OriginalCount is the original's count at the first round's instant,
	// OriginalCountAtSwitch at the final round's.
	OriginalCount         int64 `json:"original_count"`
	OriginalCountAtSwitch int64 `json:"original_count_at_switch"`
	// TargetCount is the target's _count after the catch-up.
	TargetCount int64 `json:"target_count"`
	// Samples are up to MaxSamples ids per class (new, changed, deleted,
	// kept_recovered, superseded), the smallest.
	Samples map[string][]string `json:"samples"`
	Seconds float64             `json:"seconds"`
}

// MaxSamples bounds the ids listed per catch-up class.
const MaxSamples = 10

// Rollback records a rollback.
type Rollback struct {
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Who      Who        `json:"who"`
	// Actions is the body of the _aliases call that moved the aliases back.
	Actions json.RawMessage `json:"aliases_body"`
	// LeftBehind counts the target's writes since the switch, which the
	// original does not have.
	LeftBehind LeftBehind `json:"left_behind"`
}

// LeftBehind counts how the target differs from the original beyond what
// the reviewed diff and the catch-up explain: the writes it took through
// the alias since the switch.
type LeftBehind struct {
	// New are documents only the target has, Changed documents both hold
	// differently, Deleted documents deleted from the target.
	New     int64 `json:"new"`
	Changed int64 `json:"changed"`
	Deleted int64 `json:"deleted"`
	// TargetCountAtSwitch and TargetCount are the target's _count after the
	// catch-up and now.
	TargetCountAtSwitch int64               `json:"target_count_at_switch"`
	TargetCount         int64               `json:"target_count"`
	Samples             map[string][]string `json:"samples"`
}

// readRecord reads promote.json; nil without error when there is none.
func readRecord(ctx context.Context, st Store) (*Record, error) {
	rc, err := st.Open(ctx, RecordName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", st.URL(RecordName), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", st.URL(RecordName), err)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read %s: %w", st.URL(RecordName), err)
	}
	return &r, nil
}

// writeRecord writes promote.json as indented JSON.
func writeRecord(ctx context.Context, st Store, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", RecordName, err)
	}
	return st.Put(ctx, RecordName, append(b, '\n'))
}
