//! Which module files of a crate name items of which others, so that
//! `tests/tests/module_cycles.rs` can refuse import circles between them.
//!
//! The nodes are module files, reached from a crate root through `mod x;`
//! declarations (`#[path]` included). A -> B when A names an item that B
//! defines: by a `use`, or by a path in code, types or macro arguments that
//! starts with `crate`, `super`, `self`, a child module or a name A
//! imports. A path through re-exports (`pub use child::Item`,
//! `pub use child::*`) leads to the file that defines the item. A re-export
//! alone is no edge (a facade does not depend on what it passes on, only
//! code that uses a name does), and neither is declaring `mod child;`.
//! Test code is left out: `#[cfg(test)]` items and modules, files named
//! `tests.rs` and files under a `tests/` folder inside `src`.
//!
//! It reads syntax, not Rust's name resolution: items made by macros,
//! `#[macro_use]` and intra-doc links are not seen, and a local variable
//! named like an imported item counts as a use of it. Good enough to say
//! which files lean on each other; not a compiler.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Attribute, ImplItem, Item, ItemMod, Meta, UseTree, Visibility};

/// Why a crate's module graph could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: does not parse: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: syn::Error,
    },
    #[error("{}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
}

/// The crate roots of every workspace member: `src/lib.rs`, `src/main.rs`,
/// `src/bin/*.rs` and `src/bin/*/main.rs`, sorted. Members come from
/// `[workspace] members` of `workspace/Cargo.toml` (globs such as `app/*`
/// and nested paths such as `app/scene` included, `exclude` honoured).
pub fn workspace_crate_roots(workspace: &Path) -> Result<Vec<PathBuf>, GraphError> {
    let manifest = workspace.join("Cargo.toml");
    let text = read(&manifest)?;
    let bad = |reason: String| GraphError::Manifest {
        path: manifest.clone(),
        reason,
    };
    let table: toml::Table = text.parse().map_err(|e| bad(format!("{e}")))?;
    let list = |key: &str| -> Vec<String> {
        let values = table.get("workspace").and_then(|w| w.get(key));
        let values = values.and_then(toml::Value::as_array).into_iter().flatten();
        values
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let excluded: Vec<PathBuf> = list("exclude").iter().map(|e| workspace.join(e)).collect();
    let mut members = BTreeSet::new();
    if table.contains_key("package") {
        members.insert(workspace.to_owned());
    }
    for pattern in list("members") {
        let found = expand_glob(workspace, &pattern);
        if found.is_empty() {
            return Err(bad(format!("member {pattern:?} names no crate")));
        }
        members.extend(found.into_iter().filter(|m| !excluded.contains(m)));
    }
    let mut roots = Vec::new();
    for member in members {
        let src = member.join("src");
        roots.extend([src.join("lib.rs"), src.join("main.rs")]);
        if let Ok(entries) = std::fs::read_dir(src.join("bin")) {
            for entry in entries.flatten() {
                let path = entry.path();
                roots.push(if path.is_dir() {
                    path.join("main.rs")
                } else {
                    path
                });
            }
        }
    }
    roots.retain(|r| r.is_file() && r.extension().is_some_and(|e| e == "rs"));
    roots.sort();
    Ok(roots)
}

/// Directories under `base` that match `pattern` (`*` and `?` within a
/// path segment) and hold a `Cargo.toml`.
fn expand_glob(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut dirs = vec![base.to_owned()];
    for segment in pattern.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if !segment.contains(['*', '?']) {
            dirs.iter_mut().for_each(|d| d.push(segment));
            continue;
        }
        let pattern: Vec<char> = segment.chars().collect();
        let matching = |dir: &PathBuf| -> Vec<PathBuf> {
            let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
            entries
                .filter(|e| e.path().is_dir())
                .filter(|e| {
                    let name: Vec<char> = e.file_name().to_string_lossy().chars().collect();
                    wildcard(&pattern, &name)
                })
                .map(|e| e.path())
                .collect()
        };
        dirs = dirs.iter().flat_map(matching).collect();
    }
    dirs.retain(|d| d.join("Cargo.toml").is_file());
    dirs
}

/// `*` and `?` wildcards over the characters of one path segment.
fn wildcard(pattern: &[char], name: &[char]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, _) => name.is_empty(),
        (Some(('*', rest)), _) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        (Some((p, rest)), Some((n, tail))) => (*p == '?' || p == n) && wildcard(rest, tail),
        (Some(_), None) => false,
    }
}

/// One crate's module files and which of them names items of which.
#[derive(Debug)]
pub struct ModuleGraph {
    /// Module files, the crate root first.
    files: Vec<PathBuf>,
    /// (from, to) file indexes -> the paths in `from` that name items of `to`.
    edges: BTreeMap<(usize, usize), BTreeSet<String>>,
}

/// Files that import from each other in a circle (a strongly connected
/// component of the graph), with the edges among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    /// Sorted.
    pub files: Vec<PathBuf>,
    /// (from, to, the paths in `from` that name items of `to`).
    pub edges: Vec<(PathBuf, PathBuf, Vec<String>)>,
}

impl ModuleGraph {
    /// Reads the crate whose root file is `root` (`src/lib.rs`, `src/main.rs`...).
    pub fn build(root: &Path) -> Result<ModuleGraph, GraphError> {
        let mut tree = Tree {
            src: root.parent().unwrap_or(Path::new("")).to_owned(),
            files: Vec::new(),
            modules: Vec::new(),
            bodies: Vec::new(),
        };
        tree.load_file(root, None, true)?;
        let mut edges: BTreeMap<(usize, usize), BTreeSet<String>> = BTreeMap::new();
        for (m, body) in tree.bodies.iter().enumerate() {
            let from = tree.modules[m].file;
            let mut names = Names::default();
            body.iter().for_each(|item| names.visit_item(item));
            for (path, imported) in names.paths {
                let to = match tree.resolve(m, &path, 0) {
                    Some(Target::Item(file)) => file,
                    // A module on its own is a use only when imported;
                    // `room` alone in code is a variable or a field.
                    Some(Target::Module(x)) if imported || path.len() > 1 => tree.modules[x].file,
                    _ => continue,
                };
                if to != from {
                    edges.entry((from, to)).or_default().insert(path.join("::"));
                }
            }
        }
        Ok(ModuleGraph {
            files: tree.files,
            edges,
        })
    }

    /// The module files found, the crate root first.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Every edge: (from, to, the paths in `from` that name items of `to`).
    pub fn edges(&self) -> impl Iterator<Item = (&Path, &Path, &BTreeSet<String>)> {
        let file = |i: usize| self.files[i].as_path();
        self.edges
            .iter()
            .map(move |(&(a, b), p)| (file(a), file(b), p))
    }

    /// Every set of two or more files that reach each other, sorted.
    pub fn circles(&self) -> Vec<Circle> {
        let mut out = vec![Vec::new(); self.files.len()];
        self.edges.keys().for_each(|&(a, b)| out[a].push(b));
        let mut sccs = components(&out);
        sccs.retain(|c| c.len() > 1);
        let mut circles: Vec<Circle> = sccs
            .into_iter()
            .map(|members| {
                let inside = |i: &usize| members.contains(i);
                let edges = self
                    .edges
                    .iter()
                    .filter(|((a, b), _)| inside(a) && inside(b));
                let file = |i: usize| self.files[i].clone();
                let mut files: Vec<PathBuf> = members.iter().map(|&i| file(i)).collect();
                files.sort();
                let edges =
                    edges.map(|(&(a, b), p)| (file(a), file(b), p.iter().cloned().collect()));
                let mut edges: Vec<_> = edges.collect();
                edges.sort();
                Circle { files, edges }
            })
            .collect();
        circles.sort_by(|a, b| a.files.cmp(&b.files));
        circles
    }
}

impl Circle {
    /// The files, then one line per edge with the paths that make it, paths
    /// shown relative to `base`.
    pub fn describe(&self, base: &Path) -> String {
        let show = |p: &Path| p.strip_prefix(base).unwrap_or(p).display().to_string();
        let mut text = format!("import circle between {} files:\n", self.files.len());
        for file in &self.files {
            let _ = writeln!(text, "  {}", show(file));
        }
        for (from, to, paths) in &self.edges {
            // `crate::a::B` and `super::B` first: they are the imports to cut.
            let mut paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            paths.sort_by_key(|p| {
                !["crate::", "super::", "self::"]
                    .iter()
                    .any(|s| p.starts_with(s))
            });
            let mut names = paths[..paths.len().min(SHOWN_PATHS)].join(", ");
            if paths.len() > SHOWN_PATHS {
                let _ = write!(names, " and {} more", paths.len() - SHOWN_PATHS);
            }
            let _ = writeln!(text, "  {} -> {}: {names}", show(from), show(to));
        }
        text
    }
}

/// Paths shown per edge in [`Circle::describe`]; enough to find the import.
const SHOWN_PATHS: usize = 8;

/// What a path names: a module, or an item defined in a file.
#[derive(Debug, Clone, Copy)]
enum Target {
    Module(usize),
    Item(usize),
}

/// Re-exports and globs are followed at most this deep (they may loop).
const MAX_DEPTH: usize = 32;

/// A module (a file, or an inline `mod x { }` in one): what it defines
/// and what it brings into scope.
#[derive(Debug, Default)]
struct Module {
    file: usize,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    items: BTreeSet<String>,
    /// Name -> the path it was imported from (as written in this module).
    imports: BTreeMap<String, Vec<String>>,
    /// Paths of `use path::*`.
    globs: Vec<Vec<String>>,
}

struct Tree {
    /// The crate root's folder: `tests/` folders under it are test code.
    src: PathBuf,
    files: Vec<PathBuf>,
    /// Module 0 is the crate root.
    modules: Vec<Module>,
    /// Each module's items other than submodules, test code left out.
    bodies: Vec<Vec<Item>>,
}

impl Tree {
    /// Loads a module file; `mod_rs` when it keeps its submodules beside it
    /// (a crate root, a `#[path]` file) even if it is not named mod.rs.
    fn load_file(
        &mut self,
        path: &Path,
        parent: Option<usize>,
        mod_rs: bool,
    ) -> Result<usize, GraphError> {
        let text = read(path)?;
        let ast = syn::parse_file(&text).map_err(|source| GraphError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let file = self.files.len();
        self.files.push(path.to_owned());
        let folder = path.parent().unwrap_or(Path::new("")).to_owned();
        // a.rs keeps its submodules in a/.
        let dir = match path.file_stem() {
            Some(stem) if !mod_rs && stem != "mod" => folder.join(stem),
            _ => folder,
        };
        self.add_module(file, parent, &dir, false, ast.items)
    }

    fn add_module(
        &mut self,
        file: usize,
        parent: Option<usize>,
        dir: &Path,
        inline: bool,
        items: Vec<Item>,
    ) -> Result<usize, GraphError> {
        let id = self.modules.len();
        self.modules.push(Module {
            file,
            parent,
            ..Module::default()
        });
        self.bodies.push(Vec::new());
        for item in items {
            if is_test_only(item_attrs(&item)) {
                continue;
            }
            match item {
                Item::Mod(m) => {
                    let name = m.ident.to_string();
                    if let Some(child) = self.add_submodule(file, id, dir, inline, m)? {
                        self.modules[id].children.insert(name, child);
                    }
                    continue;
                }
                Item::Use(ref u) => {
                    let module = &mut self.modules[id];
                    for (name, path) in use_leaves(&u.tree, &mut Vec::new()) {
                        match name {
                            Some(name) if name != "_" => {
                                module.imports.insert(name, path);
                            }
                            Some(_) => {}
                            None => module.globs.push(path),
                        }
                    }
                }
                ref other => self.modules[id].items.extend(item_name(other)),
            }
            self.bodies[id].push(item);
        }
        Ok(id)
    }

    /// Loads `mod name;` (its file) or `mod name { }`; `None` for test
    /// files and for modules without a file that are behind a `cfg`.
    fn add_submodule(
        &mut self,
        file: usize,
        parent: usize,
        dir: &Path,
        inline: bool,
        m: ItemMod,
    ) -> Result<Option<usize>, GraphError> {
        let name = m.ident.to_string();
        let name = name.trim_start_matches("r#");
        if let Some((_, items)) = m.content {
            return self
                .add_module(file, Some(parent), &dir.join(name), true, items)
                .map(Some);
        }
        let by_path = path_attr(&m.attrs);
        let path = match &by_path {
            Some(p) if inline => dir.join(p),
            Some(p) => self.files[file].parent().unwrap_or(Path::new("")).join(p),
            None => {
                let flat = dir.join(format!("{name}.rs"));
                if flat.exists() {
                    flat
                } else {
                    dir.join(name).join("mod.rs")
                }
            }
        };
        let rel = path.strip_prefix(&self.src).unwrap_or(&path);
        let is_test = path.file_name().is_some_and(|f| f == "tests.rs")
            || rel
                .parent()
                .is_some_and(|p| p.components().any(|c| c.as_os_str() == "tests"));
        let cfg_gated = m.attrs.iter().any(|a| a.path().is_ident("cfg"));
        if is_test || (cfg_gated && !path.exists()) {
            return Ok(None);
        }
        self.load_file(&path, Some(parent), by_path.is_some())
            .map(Some)
    }

    /// What `path`, written in module `m`, names; `None` when it leads out
    /// of the crate (std, a dependency) or to something local to a body.
    fn resolve(&self, m: usize, path: &[String], depth: usize) -> Option<Target> {
        let (first, rest) = path.split_first()?;
        let mut at = match first.as_str() {
            "crate" => 0,
            "self" => m,
            "super" => self.modules[m].parent?,
            name => match self.member(m, name, depth)? {
                Target::Module(x) => x,
                item => return Some(item),
            },
        };
        for segment in rest {
            match segment.as_str() {
                "super" => at = self.modules[at].parent?,
                "self" => {}
                name => match self.member(at, name, depth + 1) {
                    Some(Target::Module(x)) => at = x,
                    Some(item) => return Some(item),
                    // Not an item this reading sees (made by a macro, say):
                    // the deepest module that exists.
                    None => break,
                },
            }
        }
        Some(Target::Module(at))
    }

    /// What `name` means inside module `m`: a submodule, an item defined
    /// there, or what it imports under that name (following re-exports).
    fn member(&self, m: usize, name: &str, depth: usize) -> Option<Target> {
        let module = &self.modules[m];
        if let Some(&child) = module.children.get(name) {
            return Some(Target::Module(child));
        }
        if module.items.contains(name) {
            return Some(Target::Item(module.file));
        }
        if depth > MAX_DEPTH {
            return None;
        }
        if let Some(path) = module.imports.get(name) {
            return self.resolve(m, path, depth + 1);
        }
        module
            .globs
            .iter()
            .find_map(|glob| match self.resolve(m, glob, depth + 1)? {
                Target::Module(g) if g != m => self.member(g, name, depth + 1),
                _ => None,
            })
    }
}

/// Paths named in a module's code: (segments, whether a `use` imports it).
#[derive(Default)]
struct Names {
    paths: Vec<(Vec<String>, bool)>,
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item(&mut self, item: &'ast Item) {
        if is_test_only(item_attrs(item)) {
            return;
        }
        match item {
            // A re-export is no use of its own; private imports are.
            Item::Use(u) if matches!(u.vis, Visibility::Inherited) => {
                for (_, path) in use_leaves(&u.tree, &mut Vec::new()) {
                    self.paths.push((path, true));
                }
            }
            Item::Use(_) => {}
            _ => visit::visit_item(self, item),
        }
    }

    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        let attrs = match item {
            ImplItem::Const(i) => &i.attrs,
            ImplItem::Fn(i) => &i.attrs,
            ImplItem::Type(i) => &i.attrs,
            ImplItem::Macro(i) => &i.attrs,
            _ => return visit::visit_impl_item(self, item),
        };
        if !is_test_only(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.paths.push((segments, false));
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        macro_paths(mac.tokens.clone(), &mut self.paths);
    }

    /// Derives, docs and cfgs name nothing of ours that matters here.
    fn visit_attribute(&mut self, _: &'ast Attribute) {}
}

/// `a::b::c` runs in a macro's tokens (which syn leaves unparsed), except
/// after `.` (a field or method) and `$` (`$crate`).
fn macro_paths(tokens: TokenStream, out: &mut Vec<(Vec<String>, bool)>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut run: Vec<String> = Vec::new();
    let mut joined = false;
    let mut skip_next = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(ident) if joined && !run.is_empty() => {
                run.push(ident.to_string());
                joined = false;
            }
            TokenTree::Ident(ident) => {
                out.extend((!run.is_empty()).then(|| (std::mem::take(&mut run), false)));
                if !skip_next {
                    run.push(ident.to_string());
                }
                skip_next = false;
            }
            TokenTree::Punct(p)
                if p.as_char() == ':'
                    && p.spacing() == Spacing::Joint
                    && matches!(tokens.get(i + 1), Some(TokenTree::Punct(q)) if q.as_char() == ':') =>
            {
                joined = true;
                i += 1;
            }
            other => {
                out.extend((!run.is_empty()).then(|| (std::mem::take(&mut run), false)));
                joined = false;
                skip_next =
                    matches!(other, TokenTree::Punct(p) if matches!(p.as_char(), '.' | '$'));
                if let TokenTree::Group(g) = other {
                    macro_paths(g.stream(), out);
                }
            }
        }
        i += 1;
    }
    out.extend((!run.is_empty()).then_some((run, false)));
}

/// A `use` tree's leaves: (the name brought in, or `None` for a glob; the
/// full path). `use a::{self, B as C}` gives (a, [a]) and (C, [a, B]).
fn use_leaves(tree: &UseTree, prefix: &mut Vec<String>) -> Vec<(Option<String>, Vec<String>)> {
    let leaf = |prefix: &Vec<String>, ident: &syn::Ident| {
        let mut path = prefix.clone();
        if ident != "self" {
            path.push(ident.to_string());
        }
        path
    };
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            let leaves = use_leaves(&p.tree, prefix);
            prefix.pop();
            leaves
        }
        UseTree::Name(n) => {
            let path = leaf(prefix, &n.ident);
            vec![(path.last().cloned(), path)]
        }
        UseTree::Rename(r) => vec![(Some(r.rename.to_string()), leaf(prefix, &r.ident))],
        UseTree::Glob(_) => vec![(None, prefix.clone())],
        UseTree::Group(g) => g.items.iter().flat_map(|t| use_leaves(t, prefix)).collect(),
    }
}

/// `#[cfg(test)]` or `#[cfg(all(test, ...))]`.
fn is_test_only(attrs: &[Attribute]) -> bool {
    fn test(meta: &Meta) -> bool {
        match meta {
            Meta::Path(p) => p.is_ident("test"),
            Meta::List(l) if l.path.is_ident("all") => l
                .parse_args_with(Punctuated::<Meta, syn::Token![,]>::parse_terminated)
                .is_ok_and(|list| list.iter().any(test)),
            _ => false,
        }
    }
    let cfgs = attrs.iter().filter(|a| a.path().is_ident("cfg"));
    cfgs.filter_map(|a| a.parse_args::<Meta>().ok())
        .any(|m| test(&m))
}

/// `#[path = "..."]`.
fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The name an item defines in its module's namespace.
fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::Fn(i) => &i.sig.ident,
        Item::Static(i) => &i.ident,
        Item::Struct(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::TraitAlias(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        Item::Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.to_string())
}

fn read(path: &Path) -> Result<String, GraphError> {
    std::fs::read_to_string(path).map_err(|source| GraphError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The strongly connected components of a small graph, from reachability:
/// two files are in one component when each reaches the other.
fn components(out: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let reach = |from: usize| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![from]);
        while let Some(v) = todo.pop() {
            todo.extend(out[v].iter().filter(|&&w| seen.insert(w)));
        }
        seen
    };
    let reach: Vec<BTreeSet<usize>> = (0..out.len()).map(reach).collect();
    let mut placed = vec![false; out.len()];
    let mut components = Vec::new();
    for v in 0..out.len() {
        if !placed[v] {
            let mut component = vec![v];
            component.extend(
                reach[v]
                    .iter()
                    .filter(|&&w| w != v && reach[w].contains(&v)),
            );
            component.iter().for_each(|&w| placed[w] = true);
            components.push(component);
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` (path relative to the crate, contents) into a fresh
    /// crate folder and builds the graph of its `src/lib.rs`.
    fn graph(files: &[(&str, &str)]) -> (tempfile::TempDir, ModuleGraph) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let graph = ModuleGraph::build(&dir.path().join("src/lib.rs")).unwrap();
        (dir, graph)
    }

    fn names(dir: &tempfile::TempDir, files: &[PathBuf]) -> Vec<String> {
        let rel = |f: &PathBuf| {
            f.strip_prefix(dir.path().join("src"))
                .unwrap()
                .display()
                .to_string()
        };
        files.iter().map(rel).collect()
    }

    fn edges(dir: &tempfile::TempDir, graph: &ModuleGraph) -> Vec<String> {
        let rel = |f: &Path| {
            f.strip_prefix(dir.path().join("src"))
                .unwrap()
                .display()
                .to_string()
        };
        let edge = |(a, b, _): (&Path, &Path, _)| format!("{} -> {}", rel(a), rel(b));
        graph.edges().map(edge).collect()
    }

    #[test]
    fn a_circle_through_a_re_export_leads_to_the_defining_files() {
        for export in ["pub use b::Thing;", "pub use b::*;"] {
            let (dir, graph) = graph(&[
                ("src/lib.rs", &format!("mod a;\nmod b;\n{export}\n")),
                ("src/a.rs", "pub struct A;\npub fn f(_: crate::Thing) {}\n"),
                ("src/b.rs", "pub struct Thing(pub crate::a::A);\n"),
            ]);
            let circles = graph.circles();
            assert_eq!(circles.len(), 1, "{export}: {circles:?}");
            assert_eq!(names(&dir, &circles[0].files), ["a.rs", "b.rs"]);
            let a_to_b = &circles[0].edges[0];
            assert_eq!(a_to_b.2, ["crate::Thing"]);
            let text = circles[0].describe(dir.path());
            assert!(
                text.contains("src/a.rs -> src/b.rs: crate::Thing"),
                "{text}"
            );
            assert!(text.contains("src/b.rs -> src/a.rs: crate::a::A"), "{text}");
        }
    }

    #[test]
    fn a_child_using_its_parent_is_no_circle_until_the_parent_uses_the_child() {
        let parent = "mod child;\npub struct X;\n";
        let child = "use super::X;\npub fn f(_: X) {}\n";
        let (dir, alone) = graph(&[("src/lib.rs", parent), ("src/child.rs", child)]);
        assert_eq!(edges(&dir, &alone), ["child.rs -> lib.rs"]);
        assert!(alone.circles().is_empty());

        let uses_child = format!("{parent}pub fn g() {{ child::f(X) }}\n");
        let (dir, both) = graph(&[("src/lib.rs", &uses_child), ("src/child.rs", child)]);
        let circles = both.circles();
        assert_eq!(circles.len(), 1);
        assert_eq!(names(&dir, &circles[0].files), ["child.rs", "lib.rs"]);
    }

    #[test]
    fn a_tree_without_circles_passes_and_test_code_is_left_out() {
        let (dir, graph) = graph(&[
            (
                "src/lib.rs",
                "pub mod net;\nmod util;\n#[path = \"gen/out.rs\"]\nmod generated;\n",
            ),
            ("src/net/mod.rs", "mod conn;\nmod tests;\n"),
            (
                "src/net/conn.rs",
                "use crate::util::helper;\npub fn open() { helper(); tracing::info!(\"{}\", crate::generated::N); }\n",
            ),
            (
                "src/util.rs",
                "pub fn helper() {}\n#[cfg(test)]\nmod tests { use crate::net::*; }\n",
            ),
            ("src/gen/out.rs", "pub const N: u8 = 1;\n"),
            // Test code that would close circles if it counted.
            ("src/net/tests.rs", "use crate::util::helper;\n"),
        ]);
        assert_eq!(
            names(&dir, graph.files()),
            [
                "lib.rs",
                "net/mod.rs",
                "net/conn.rs",
                "util.rs",
                "gen/out.rs"
            ]
        );
        assert_eq!(
            edges(&dir, &graph),
            ["net/conn.rs -> util.rs", "net/conn.rs -> gen/out.rs"]
        );
        assert!(graph.circles().is_empty());
    }

    #[test]
    fn workspace_members_may_be_globs_and_nested() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = "[workspace]\nmembers = [\"core\", \"app/*\"]\nexclude = [\"app/old\"]\n";
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        for (krate, root) in [
            ("core", "src/lib.rs"),
            ("app/scene", "src/lib.rs"),
            ("app/cli", "src/main.rs"),
            ("app/cli", "src/bin/extra.rs"),
            ("app/old", "src/lib.rs"),
        ] {
            let path = dir.path().join(krate).join(root);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(krate).join("Cargo.toml"), "").unwrap();
            std::fs::write(path, "").unwrap();
        }
        let roots = workspace_crate_roots(dir.path()).unwrap();
        let rel = |p: &PathBuf| p.strip_prefix(dir.path()).unwrap().display().to_string();
        let roots: Vec<String> = roots.iter().map(rel).collect();
        assert_eq!(
            roots,
            [
                "app/cli/src/bin/extra.rs",
                "app/cli/src/main.rs",
                "app/scene/src/lib.rs",
                "core/src/lib.rs"
            ]
        );
    }
}
