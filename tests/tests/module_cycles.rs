//! No crate of the workspace has import circles between its module files:
//! each pair of files depends one way, so a file can be read (and moved)
//! with what it imports, not with half the crate. How the graph is read:
//! `touchpoint_tests::module_graph`.

use touchpoint_tests::module_graph::{ModuleGraph, workspace_crate_roots};
use touchpoint_tests::repo_root;

#[test]
fn no_crate_has_import_circles_between_module_files() {
    let root = repo_root();
    let crates = workspace_crate_roots(&root).unwrap();
    let mut report = Vec::new();
    let mut files = 0;
    for crate_root in &crates {
        let graph = ModuleGraph::build(crate_root).unwrap();
        files += graph.files().len();
        for circle in graph.circles() {
            let name = crate_root.strip_prefix(&root).unwrap_or(crate_root);
            report.push(format!(
                "in the crate of {}, {}",
                name.display(),
                circle.describe(&root)
            ));
        }
    }
    // The check can only pass for the right reason if it found the crates.
    for expected in [
        "crdt/src/lib.rs",
        "sync-server/src/lib.rs",
        "app/src/main.rs",
    ] {
        assert!(
            crates.contains(&root.join(expected)),
            "{expected} not among {crates:?}"
        );
    }
    assert!(files > 50, "only {files} module files found");
    assert!(
        report.is_empty(),
        "{} import circles between module files; cut one edge of each (move what both \
         sides need into a module of its own):\n\n{}",
        report.len(),
        report.join("\n")
    );
}
