//! The crates' dependencies state the layers (ARCHITECTURE.md, "Crates"):
//! what each crate may not reach, directly or through any dependency of
//! its own, read from `cargo metadata`'s resolved graph. A crate that
//! starts pulling in a window, a GPU or an async runtime it must not have
//! fails here, before the wasm check or a reviewer finds it.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;
use touchpoint_tests::repo_root;

/// Crates that give a window, a GPU, an async runtime or the network: the
/// layers' boundaries.
const WINDOW: &[&str] = &["winit", "egui", "egui-winit", "egui-wgpu"];
const GPU: &[&str] = &["wgpu", "glyphon"];
const RUNTIME: &[&str] = &["tokio", "mio", "quinn", "rustls", "rusqlite"];

fn forbidden(package: &str) -> Vec<&'static str> {
    let mut no: Vec<&str> = Vec::new();
    match package {
        "touchpoint-crdt" => {
            no.extend(WINDOW.iter().chain(GPU).chain(RUNTIME));
            no.extend(["touchpoint-scene", "touchpoint-sync"]);
        }
        "touchpoint-scene" => {
            no.extend(WINDOW.iter().chain(GPU).chain(RUNTIME));
            no.extend(["touchpoint-editor", "touchpoint-render", "touchpoint-sync"]);
        }
        "touchpoint-editor" => {
            no.extend(WINDOW.iter().chain(GPU).chain(RUNTIME));
            no.extend(["touchpoint-render", "touchpoint-sync"]);
        }
        "touchpoint-render" => {
            no.extend(WINDOW.iter().chain(RUNTIME));
            no.extend(["touchpoint-editor", "touchpoint-sync"]);
        }
        "touchpoint-sync" => {
            no.extend(WINDOW.iter().chain(GPU));
            no.extend(["touchpoint-scene", "touchpoint-editor", "touchpoint-render"]);
        }
        _ => {}
    }
    no
}

/// Package name -> names of its normal (not dev, not build) dependencies,
/// for every package in the resolved graph.
fn normal_dependencies(metadata: &Value) -> BTreeMap<String, Vec<String>> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut graph = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve") {
        let name = names[node["id"].as_str().unwrap()].to_owned();
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
            .collect();
        graph.insert(name, deps);
    }
    graph
}

/// How `from` reaches each crate it depends on: the path of names.
fn reachable(graph: &BTreeMap<String, Vec<String>>, from: &str) -> BTreeMap<String, Vec<String>> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut todo = vec![vec![from.to_owned()]];
    while let Some(path) = todo.pop() {
        let last = path.last().unwrap();
        for dep in graph.get(last).into_iter().flatten() {
            if seen.contains_key(dep) {
                continue;
            }
            let mut next = path.clone();
            next.push(dep.clone());
            seen.insert(dep.clone(), next.clone());
            todo.push(next);
        }
    }
    seen
}

/// This machine's target triple (`rustc -vV`'s `host:`): the graph is read
/// for it, so dependencies of other platforms (wasm-only ones, say) are
/// left out.
fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

#[test]
fn no_crate_reaches_what_its_layer_must_not_have() {
    let host = host_triple();
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--format-version", "1"])
        .args(["--filter-platform", &host])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let graph = normal_dependencies(&metadata);
    let mut checked = BTreeSet::new();
    let mut report = Vec::new();
    for package in graph.keys() {
        let no = forbidden(package);
        if no.is_empty() {
            continue;
        }
        checked.insert(package.clone());
        for (dep, path) in reachable(&graph, package) {
            if no.contains(&dep.as_str()) {
                report.push(format!("{package} reaches {dep}: {}", path.join(" -> ")));
            }
        }
    }
    // Only meaningful if the crates were found (and the check can see a
    // dependency: the desktop app does reach the window and the GPU).
    assert_eq!(checked.len(), 5, "checked {checked:?}");
    let app = reachable(&graph, "touchpoint");
    assert!(app.contains_key("winit") && app.contains_key("wgpu"));
    assert!(report.is_empty(), "{}", report.join("\n"));
}
