package restore

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/esrestore/esrestore/internal/jsonscan"
)

func TestTargetSettings(t *testing.T) {
	orig := map[string]json.RawMessage{}
	for k, v := range map[string]string{
		"index.number_of_shards":                            `"3"`,
		"index.number_of_replicas":                          `"2"`,
		"index.auto_expand_replicas":                        `"0-1"`,
		"index.analysis.analyzer.folded.filter":             `["lowercase","asciifolding"]`,
		"index.routing.allocation.include._tier_preference": `"data_content"`,
		"index.uuid":                                    `"x"`,
		"index.creation_date":                           `"1"`,
		"index.provided_name":                           `"documents"`,
		"index.version.created":                         `"8536000"`,
		"index.history.uuid":                            `"h"`,
		"index.resize.source.name":                      `"old"`,
		"index.routing.allocation.initial_recovery._id": `"n"`,
		"index.blocks.write":                            `"true"`,
		"index.lifecycle.name":                          `"p"`,
		"index.lifecycle.origination_date":              `"1"`,
		"archived.index.foo":                            `"1"`,
		"index.store.type":                              `"snapshot"`,
		"index.routing.allocation.include._tier_preference_unrelated.x": `"y"`,
	} {
		orig[k] = json.RawMessage(v)
	}
	copied, dropped := targetSettings(orig)
	wantDropped := []string{"archived.index.foo", "index.blocks.write", "index.creation_date", "index.history.uuid",
		"index.lifecycle.name", "index.lifecycle.origination_date", "index.provided_name", "index.resize.source.name",
		"index.routing.allocation.initial_recovery._id", "index.store.type", "index.uuid", "index.version.created"}
	if !slices.Equal(dropped, wantDropped) {
		t.Errorf("dropped %v, want %v", dropped, wantDropped)
	}
	if string(copied["index.analysis.analyzer.folded.filter"]) != `["lowercase","asciifolding"]` || len(copied) != len(orig)-len(wantDropped) {
		t.Errorf("copied %v", copied)
	}
	load := loadSettings(orig)
	if string(load[settingRefresh]) != `"-1"` || string(load[settingReplicas]) != `"0"` || string(load[settingAutoExpand]) != `"false"` {
		t.Errorf("load settings %v", load)
	}
	final := finalSettings(orig)
	if string(final[settingRefresh]) != "null" || string(final[settingReplicas]) != `"2"` || string(final[settingAutoExpand]) != `"0-1"` {
		t.Errorf("final settings %v", final)
	}
	if _, ok := finalSettings(map[string]json.RawMessage{})[settingAutoExpand]; ok {
		t.Errorf("auto_expand_replicas reset on an original without it")
	}
}

func TestStagingName(t *testing.T) {
	for in, want := range map[string]string{
		"20211202T101500Z-3f9a1c": "esrestore-staging-20211202t101500z-3f9a1c",
		"a/b c:d$1":               "esrestore-staging-a-b-c-d-1",
	} {
		if got := stagingName(in); got != want {
			t.Errorf("stagingName(%q) = %q, want %q", in, got, want)
		}
		if why := CheckIndexName(stagingName(in)); why != "" {
			t.Errorf("stagingName(%q) is not a valid index name: %s", in, why)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain-id_1", `quo"te`, "back\\slash", "new\nline", "é中", "\x01"} {
		var got string
		if err := json.Unmarshal(jsonscan.AppendString(nil, s), &got); err != nil || got != s {
			t.Errorf("jsonscan.AppendString(%q) decodes to %q, %v", s, got, err)
		}
	}
}
