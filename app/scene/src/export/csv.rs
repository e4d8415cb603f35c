//! CSV export of a grid (a journey map, a blueprint, a kanban board): one row
//! per lane, one column per stage, each cell the text of the elements in it
//! (in their cell order), joined by newlines.
//!
//! Layout: the first row holds the grid's title (or empty) and the stage
//! titles; each following row a lane title and its cells. `line` lanes (a
//! blueprint's lines) carry no content and are left out. An `emotion` lane
//! is followed by a row titled `<lane> (emotion)` holding its curve's values
//! (-1 low to 1 high; empty where a stage has no point).
//!
//! Quoting follows RFC 4180 (fields with a comma, quote, CR or LF are
//! quoted, quotes doubled; rows end in CRLF). A cell that starts with `=`,
//! `+`, `@`, a tab or a CR gets a leading `'`, so a spreadsheet never runs a
//! collaborator's note as a formula.

use std::io::Write;

use touchpoint_crdt::{Board, Body, GridView, Kind, LaneRole};

/// Why a board cannot be exported as CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the board has no grid (journey map, blueprint or board of columns) to export as CSV")]
    NoGrid,
    #[error("the board has {count} grids ({names}): name one with --frame ID-OR-TITLE")]
    Ambiguous { count: usize, names: String },
    #[error("no grid or frame named {0:?} holds a grid")]
    NotFound(String),
    #[error("{name:?} names {count} grids ({ids}): use an id")]
    AmbiguousName {
        name: String,
        count: usize,
        ids: String,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The grid to export: the only one on the board, or the one named by id or
/// title, or the only grid inside the frame named by id or title.
pub fn choose_grid(board: &Board, name: Option<&str>) -> Result<GridView, CsvError> {
    let grids: Vec<GridView> = board
        .grid_ids()
        .iter()
        .filter_map(|id| board.grid_view(id))
        .collect();
    let Some(name) = name else {
        return match grids.len() {
            0 => Err(CsvError::NoGrid),
            1 => Ok(grids.into_iter().next().ok_or(CsvError::NoGrid)?),
            count => Err(CsvError::Ambiguous {
                count,
                names: grids.iter().map(label).collect::<Vec<_>>().join(", "),
            }),
        };
    };
    if let Some(g) = grids.iter().find(|g| g.id == name) {
        return Ok(g.clone());
    }
    let mut hits: Vec<&GridView> = grids.iter().filter(|g| g.grid.title == name).collect();
    if hits.is_empty() {
        // A frame by id or title: the grids inside it.
        let frames: Vec<_> = board
            .elements()
            .into_iter()
            .filter(|e| e.kind() == Kind::Frame)
            .filter(|e| e.id == name || matches!(&e.body, Body::Frame { title } if title == name))
            .collect();
        hits = grids
            .iter()
            .filter(|g| {
                frames.iter().any(|f| {
                    let el = board.element(&g.id);
                    el.as_ref().and_then(|e| e.parent.as_deref()) == Some(f.id.as_str()) || {
                        let [fx0, fy0, fx1, fy1] = f.geom.bounds();
                        g.geom.x >= fx0
                            && g.geom.y >= fy0
                            && g.geom.x + g.geom.w <= fx1
                            && g.geom.y + g.geom.h <= fy1
                    }
                })
            })
            .collect();
    }
    match hits.as_slice() {
        [] => Err(CsvError::NotFound(name.to_owned())),
        [one] => Ok((*one).clone()),
        many => Err(CsvError::AmbiguousName {
            name: name.to_owned(),
            count: many.len(),
            ids: many
                .iter()
                .map(|g| g.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn label(g: &GridView) -> String {
    if g.grid.title.is_empty() {
        g.id.clone()
    } else {
        format!("{:?} ({})", g.grid.title, g.id)
    }
}

/// The table a grid exports as: rows of cells, header row first.
pub fn grid_table(board: &Board, view: &GridView) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut header = vec![view.grid.title.clone()];
    header.extend(view.grid.stages.iter().map(|s| s.title.clone()));
    rows.push(header);
    for lane in &view.grid.lanes {
        if lane.role == LaneRole::Line {
            continue;
        }
        let mut row = vec![lane.title.clone()];
        for stage in &view.grid.stages {
            let texts: Vec<String> = view
                .cell(&lane.id, &stage.id)
                .iter()
                .filter_map(|id| board.element(id))
                .filter_map(|e| e.body.text().map(str::to_owned))
                .filter(|t| !t.is_empty())
                .collect();
            row.push(texts.join("\n"));
        }
        rows.push(row);
        if lane.role == LaneRole::Emotion {
            let mut row = vec![format!("{} (emotion)", lane.title)];
            row.extend(view.grid.stages.iter().map(|s| {
                lane.points
                    .get(&s.id)
                    .map_or(String::new(), |v| format!("{v}"))
            }));
            rows.push(row);
        }
    }
    rows
}

/// One field, quoted as RFC 4180 needs and defused against formulas.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Writes rows as CSV (CRLF line ends).
pub fn write_rows(rows: &[Vec<String>], mut out: impl Write) -> std::io::Result<()> {
    for row in rows {
        let line: Vec<String> = row.iter().map(|c| field(c)).collect();
        out.write_all(line.join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    out.flush()
}

/// Exports the grid chosen by [`choose_grid`] as CSV.
pub fn write_csv(board: &Board, name: Option<&str>, out: impl Write) -> Result<(), CsvError> {
    let view = choose_grid(board, name)?;
    write_rows(&grid_table(board, &view), out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("- a list"), "- a list");
        assert_eq!(field(""), "");
    }
}
