// Package diff compares up to three document sets, document by document:
// the original (the live index), the target (the restored index) and the
// backup (where lost documents come back from). It writes for a reviewer
// what an alias switch from the original to the target would change, as
// RFC 6902 patches, and what the incident took from the original.
//
// # Sides
//
// Sides names the document sets; each is an Elasticsearch index
// (IndexSide, or IndexSideAt for an index read as of one point in time)
// or an NDJSON dump (DumpSide). Without a Backup the diff is two-sided
// and reports the outcome only (Counts.Loss and Counts.Alternatives are
// nil). Without a Target the target is virtual: what Options.Overlay would
// build from the original and the backup, for a dry run that writes
// nothing. Differ.Run takes two sides, the original and a restored side:
// the target, or with an Overlay the backup.
//
// When every side is an index the comparison is a lookup join, since
// Elasticsearch cannot sort on _id: pass 1 scans the original (point in
// time, search_after on _shard_doc, sliced over Options.Workers) and
// fetches each page's ids from the target and the backup with _mget;
// pass 2 scans the target's ids for those the original lacks; pass 3
// scans the backup's ids for lost documents the target lacks too, unless
// the backup's count shows that passes 1 and 2 met every one of them.
// When a side is a dump, every side is sorted by _id in bounded memory and
// walked in step. A page with failed shards, an expired point in time or
// counts that do not add up fail the diff: a short read never shows up as
// missing documents. A bad dump line (not a document, or repeating an
// earlier line's _id) is skipped as the restore skips it, which records
// it as a failure, and counted in Counts.BadLines; the ids of
// Options.SkipIDs (held under several routings) are left out of every
// side and counted in Counts.Skipped. Options.Scope leaves backup
// documents out of the backup side (the restore's --skip-ids and
// --only-query): they are skipped, neither lost nor not recovered.
//
// # Classes
//
// The outcome (Counts.Outcome: original → target, what an alias switch
// does) puts every document of the original or the target in exactly one
// class:
//   - unchanged: in both, equal (counted only);
//   - recovered: in both, and the patch only adds (values the original
//     lacks come back);
//   - overwritten: in both, and the patch replaces or removes a value the
//     original holds, or the _routing differs;
//   - added: only in the target;
//   - removed: only in the original (lost if the alias is switched).
//
// The loss (Counts.Loss: original vs backup, three-sided only) counts the
// backup's documents that are lost (only in the backup), stripped (the
// backup's copy has paths the original lacks) or edited since the backup
// (both hold a path, with different values), the original's documents new
// since the backup, and the not recovered: lost documents, or documents
// with backup-only paths, that the target lacks too. Options.Profile and
// Options.ProfileDate profile the lost documents against the backup
// (Loss.Profile, Loss.ProfileDate), so an incident's signature shows.
// Counts.Alternatives says what each prefer (original, source, fill) would
// give on the same sides, computed from the copies the diff holds.
//
// With an Overlay the target is the one a restore would build from the
// original and the backup as a source: ids only in the original are
// unchanged (the restore keeps them), ids only in the backup are added,
// and ids in both are unchanged with OverlayPreferOriginal, the backup's
// copy with OverlayPreferSource, and with OverlayFill the original's copy
// with the paths it lacks filled from the backup's. OverlaySource makes
// the target the backup alone.
//
// Counts.Fields counts the patch operations by path pattern (array
// indexes as "*") and class (recovered, overwritten, stripped,
// edited_since_backup, not_recovered), with sample values.
//
// # Equality
//
// Byte-equal sources are equal without being decoded. Others are decoded
// (internal/jsonscan's Decoder, only the values that differ in bytes) and
// compared as JSON values: object key order does not count, and numbers
// are compared by exact decimal value, so 1, 1.0, 1e0 and 10e-1 are the
// same number and a document that differs only there is unchanged.
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
// The report has one line per document whose outcome is not unchanged,
// or that is not recovered or skipped, sorted by _id (bytes), the same
// whatever the number of workers:
//
//	{"_id":"…","change":"recovered","patch":[…]}
//	{"_id":"…","change":"overwritten","patch":[…],"not_recovered":[…]}
//	{"_id":"…","change":"added","restored":{…}}
//	{"_id":"…","change":"removed","original":{…}}
//	{"_id":"…","change":"not_recovered","patch":[…]}
//	{"_id":"…","change":"skipped","backup":{…}}
//
// A patch turns the original's source into the target's, and every
// replace and remove is preceded by a test of the old value, so the
// reviewer sees before and after. "not_recovered" lists, beside an outcome
// patch, the backup's operations the target lacks; a not_recovered line is
// an unchanged document's (its patch holds those operations) or a lost
// document's the target lacks (its patch adds the backup's whole
// document). A skipped line carries the backup's copy the scope left out.
// Patch values are written with sorted keys and raw UTF-8. Added and
// removed documents are written as stored. When the routings differ, a
// recovered or overwritten line has "routing":{"original":…,"restored":…}
// (null for none) and its patch may be empty; added, removed, lost and
// skipped lines carry their document's routing, if any, as
// "routing":{"restored":…}, {"original":…} or {"backup":…}.
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
