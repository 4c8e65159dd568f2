// Package promote finishes what a reviewed esrestore run started: it moves
// the original's alias to the restored target, with the writes the
// original took since the run, and can move it back.
//
// A promote is five steps, each safe to repeat after an interruption:
//
//   - Check reads and never writes: the summary is complete, every object
//     matches its sha256, the verdict is ok or each reason is accepted,
//     the cluster, the original and the target are the ones the report
//     names (uuids, the run id in the target's _meta, its document count),
//     and every alias points at the original alone.
//   - Catch-up brings the original's writes since the run into the target.
//     The run recorded no per-shard sequence numbers, and a _seq_no range
//     cannot see deletions anyway, so the writes are found by a fresh
//     two-sided diff original → target compared line by line with the
//     reviewed diff.ndjson.gz: a line that differs (or is new) marks a
//     document the original changed since. The live version wins; a
//     document deleted from the original since is removed from the target,
//     unless the report recovered it. The application goes on writing, so
//     the catch-up runs in rounds, each reading the original at one
//     instant (a point in time), until a round finds little left
//     (Options.SwitchAt) or the rounds are spent (MaxRounds, RoundsTime).
//   - Final round. Without Options.BlockWrites: the target is pinned at an
//     instant, the aliases switch, and after Options.Settle the original
//     is refreshed and read once more; what it took since the last round
//     is written to the target conditionally on the target's copy at the
//     switch (if_seq_no and if_primary_term, or a create), so a document
//     the application wrote to the target since the switch keeps its
//     write. It repeats while the original still changes. With
//     BlockWrites the original is write-blocked (PUT /{index}/_block/write,
//     which waits for the writes in flight) for the final round and the
//     switch only.
//   - Switch is one POST /_aliases: per alias, a remove from the original
//     (must_exist) and an add to the target with the alias's filter,
//     routing, is_hidden and is_write_index, so a reader of the alias sees
//     one index or the other, never both or none.
//   - Record writes promote.json beside summary.json: who, when, the
//     aliases, from, to, the catch-up counts and the accepted reasons. It
//     is also written before catch-up and before the switch, with the state
//     reached, so a rerun knows where the last one stopped.
//
// Rollback moves the aliases back using promote.json, and counts the writes
// the target took since the switch, which stay behind in the target.
package promote
