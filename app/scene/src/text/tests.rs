use super::*;

#[test]
fn one_line_and_explicit_breaks() {
    let mut fonts = Fonts::new();
    let l = fonts.layout("Hello", 20.0, None, Align::Left);
    assert_eq!(l.lines.len(), 1);
    assert_eq!(l.line_texts("Hello"), ["Hello"]);
    assert!(l.lines[0].width > 40.0 && l.lines[0].width < 80.0, "{l:?}");
    assert!((l.height - 26.0).abs() < 1e-3);
    assert_eq!(l.lines[0].glyphs.len(), 5);
    assert!(l.lines[0].glyphs.iter().all(|g| g.glyph_id != 0));

    let text = "one\r\ntwo\n\nthree";
    let l = fonts.layout(text, 16.0, Some(500.0), Align::Left);
    assert_eq!(l.line_texts(text), ["one", "two", "", "three"]);
    let baselines: Vec<f64> = l.lines.iter().map(|l| l.baseline).collect();
    for w in baselines.windows(2) {
        assert!(
            (w[1] - w[0] - 16.0 * LINE_HEIGHT).abs() < 1e-3,
            "{baselines:?}"
        );
    }
}

#[test]
fn wraps_at_words_and_aligns() {
    let mut fonts = Fonts::new();
    let text = "the quick brown fox jumps over the lazy dog";
    let l = fonts.layout(text, 20.0, Some(120.0), Align::Left);
    assert!(l.lines.len() > 2, "{:?}", l.line_texts(text));
    for (line, s) in l.lines.iter().zip(l.line_texts(text)) {
        assert!(line.width <= 120.0 + 0.01, "{s:?} {}", line.width);
        assert!(!s.ends_with(' ') && !s.starts_with(' '), "{s:?}");
        assert!(line.x.abs() < 1e-3);
    }
    // Every word is on some line, in order.
    assert_eq!(l.line_texts(text).join(" "), text);

    let c = fonts.layout(text, 20.0, Some(120.0), Align::Center);
    let r = fonts.layout(text, 20.0, Some(120.0), Align::Right);
    for ((lc, lr), ll) in c.lines.iter().zip(&r.lines).zip(&l.lines) {
        assert!((lc.x - (120.0 - ll.width) / 2.0).abs() < 0.5, "{lc:?}");
        assert!((lr.x + lr.width - 120.0).abs() < 0.5, "{lr:?}");
    }
}

#[test]
fn long_word_breaks_inside_when_it_must() {
    let mut fonts = Fonts::new();
    let text = "Supercalifragilisticexpialidocious";
    let l = fonts.layout(text, 20.0, Some(100.0), Align::Left);
    assert!(l.lines.len() > 1);
    assert_eq!(l.line_texts(text).concat(), text);
}

#[test]
fn deterministic_and_rtl_passes() {
    let mut a = Fonts::new();
    let mut b = Fonts::new();
    let text = "Mixed עברית and العربية text, emoji 🙂 too";
    assert_eq!(
        a.layout(text, 18.0, Some(150.0), Align::Center),
        b.layout(text, 18.0, Some(150.0), Align::Center)
    );
    let rtl = "שלום עולם";
    let l = a.layout(rtl, 18.0, Some(500.0), Align::Left);
    assert!(l.lines[0].rtl);
    assert_eq!(l.line_texts(rtl), [rtl]);
}

#[test]
fn fit_shrinks_only_when_needed() {
    let mut fonts = Fonts::new();
    let box_size = Vec2::new(168.0, 168.0);
    let short = fonts.fit("Short", 20.0, box_size, Align::Center);
    assert_eq!(short.font_size, 20.0);

    let long = "A much longer note that someone typed during the workshop about \
                what bothers them in today's service, and then some more words";
    let l = fonts.fit(long, 20.0, box_size, Align::Center);
    assert!(l.font_size < 20.0 && l.font_size >= MIN_FIT_FONT_SIZE);
    assert!(l.height <= box_size.y + 0.01);
    assert!(l.max_line_width() <= box_size.x + 0.01);
    // The next size up does not fit (it is the largest).
    let up = fonts.layout_with(
        long,
        l.font_size + FIT_STEP,
        Some(168.0),
        Align::Center,
        Wrap::Word,
    );
    assert!(up.height > box_size.y + 0.01 || up.max_line_width() > box_size.x + 0.01);

    // A long word shrinks rather than breaking.
    let word = fonts.fit(
        "Incomprehensibilities",
        20.0,
        Vec2::new(120.0, 120.0),
        Align::Left,
    );
    assert_eq!(word.lines.len(), 1);
    assert!(word.font_size < 20.0);
}
