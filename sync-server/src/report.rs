//! Errors as the command lines print them (`touchpoint-server`,
//! `touchpoint-load`, the app's `touchpoint`): one line, each cause said
//! once.

/// The error and its causes on one line, skipping a cause whose text the
/// line already holds: a library error whose message quotes its cause (so
/// that a status bar can show it alone) also hands that cause on as its
/// `source`, and printing the whole chain would say it twice.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read board.tpboard: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot export")]
    struct Wrapping(#[source] Quoting);

    #[test]
    fn each_cause_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "not found");
        assert_eq!(
            one_line(&Quoting(io())),
            "cannot read board.tpboard: not found"
        );
        assert_eq!(
            one_line(&Wrapping(Quoting(io()))),
            "cannot export: cannot read board.tpboard: not found"
        );
    }
}
