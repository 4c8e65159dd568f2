// Package diff compares two document sets, the original and the restored
// one, document by document, and writes what changed as RFC 6902 patches
// for a reviewer.
//
// A side is an Elasticsearch index (IndexSide) or an NDJSON dump
// (DumpSide). Between two indexes the comparison is a lookup join, since
// Elasticsearch cannot sort on _id: the original is scanned (point in time,
// search_after on _shard_doc, sliced over Options.Workers) and each page's
// ids are fetched from the restored index with _mget, then the restored
// index's ids are scanned to find the ones the original lacks. When a side
// is a dump, both sides are sorted by _id in bounded memory and walked in
// step. A page with failed shards, an expired point in time or counts
// that do not add up fail the diff: a short read never shows up as
// missing documents. A bad dump line (not a document, or repeating an
// earlier line's _id) is skipped as the restore skips it, which records
// it as a failure, and counted in Counts.BadLines; the ids of
// Options.SkipIDs (held under several routings) are left out of every
// side and counted in Counts.Skipped.
//
// # Classes
//
// Every document of either side is exactly one of:
//   - unchanged: on both sides, equal (counted only);
//   - changed: on both sides, different source or _routing;
//   - added: only on the restored side (normally the recovered documents);
//   - removed: only on the original (lost if the alias is switched).
//
// With an Overlay the restored side is a source to be merged onto the
// original, and the diff shows the target the merge would build: ids only
// in the original are unchanged (the merge keeps them), and with
// OverlayPreferOriginal so are ids on both sides; Counts.Restored is then
// the size of that target. OverlayFill builds, on ids on both sides, the
// original's document with the paths it lacks filled from the source's.
//
// # Equality
//
// Byte-equal sources are equal without being decoded. Others are decoded
// and compared as JSON values: object key order does not count, and
// numbers are compared by exact decimal value, so 1, 1.0, 1e0 and 10e-1 are
// the same number and a document that differs only there is unchanged.
// Elasticsearch stores _source verbatim, but to a reviewer, and to every
// query and aggregation, 1 and 1.0 are the same; only the representation
// differs. No precision is lost: 9007199254740993 and 9007199254740992 are
// different numbers, unlike after a float64 round trip. In patches,
// numbers are written in a canonical form: the shortest exact decimal in
// JavaScript's layout (1.50 is written 1.5, 1e21 as 1e+21).
//
// Options.Ignore removes JSON Pointers, "*" matching any one member or
// element ("/modified", "/tags/*/id"), from both documents before they are
// compared; an ignored array element is removed, so the elements after it
// shift. A document whose only differences are ignored is unchanged.
//
// # Report
//
// The report has one line per changed, added or removed document, sorted
// by _id (bytes), the same whatever the number of workers:
//
//	{"_id":"…","change":"changed","patch":[…]}
//	{"_id":"…","change":"added","restored":{…}}
//	{"_id":"…","change":"removed","original":{…}}
//
// A patch turns the original's source into the restored one, and every
// replace and remove is preceded by a test of the old value, so the reviewer
// sees before and after. Patch values are written with sorted keys and raw
// UTF-8. Added and removed documents are written as stored. When the
// routings differ, a changed line has "routing":{"original":…,"restored":…}
// (null for none) and its patch may be empty; added and removed lines carry
// their document's routing, if any, as "routing":{"restored":…} or
// "routing":{"original":…}.
//
// With Options.Watch, a line whose document a watch matched ends with
// "watched":[…], the paths of those watches in the order given:
//
//	{"_id":"…","change":"overwritten","patch":[…],"watched":["/visibility"]}
//
// A watch matches a document when its value at the watched JSON Pointer
// differs between the original and the target (a side without the
// document or without the path has no value, so added and removed
// documents count when the other side has one), or, with a value, when
// the target's value equals it and the original's does not. Values are
// compared as the diff compares them (1 and 1.0 are equal). Counts.Watched
// counts each watch's documents and Counts.WatchedDocuments those any
// watch matched.
//
// # Transitions
//
// Counts.Fields.Transitions counts, for each path pattern whose replaced
// values (original → target) come from a small set, the documents whose
// value goes from one value to another: "/visibility" "INTERNAL" →
// "PUBLIC" in 17 documents. A path is left out once its replaces, both
// sides and all workers together, show more than MaxTransitionValues
// distinct values or a value that is not a string, number, boolean or
// null: free text and dates are changes, not transitions.
//
// Lines wait in memory up to Options.MemoryBudget, then are sorted and
// spilled to temporary files, merged into the writer at the end and
// removed, so memory stays bounded however many documents differ.
package diff
