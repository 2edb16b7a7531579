//! Issue 14: every word of the `--lang zh` dossier in Chinese, ids, file names and units excepted. Rendered for
//! the demo and for the OSM example (real streets of 黄浦区), the page's visible text and its hover texts (`title`
//! attributes, SVG `<title>`) are searched for Latin words once everything a planner cannot translate is taken out.

use crate::{bmu, demo, root};
use std::collections::BTreeMap;
use std::path::Path;

fn dossier_zh(area: &Path, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "propose",
        area.to_str().unwrap(),
        "--out",
        "out/units.geojson",
        "--candidates",
        "3",
        "--lang",
        "zh",
        "--report-html",
        "out.html",
    ];
    args.extend_from_slice(extra);
    let out = bmu(&args, dir.path());
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "propose failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.path().join("out.html")).unwrap()
}

/// `html` without the elements whose content is not text (style, script) and without tags, but with the values
/// of `title` attributes (a reader sees them on hover), entities decoded.
fn visible_text(html: &str) -> String {
    let mut s = html.to_string();
    for element in ["style", "script"] {
        while let Some(start) = s.find(&format!("<{element}")) {
            let close = format!("</{element}>");
            let end = s[start..]
                .find(&close)
                .map_or(s.len(), |e| start + e + close.len());
            s.replace_range(start..end, " ");
        }
    }
    let mut text = String::new();
    let mut rest = s.as_str();
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let end = rest[open..].find('>').map_or(rest.len(), |e| open + e + 1);
        let tag = &rest[open..end];
        if let Some(t) = tag.find(" title=\"") {
            let value = &tag[t + 8..];
            text.push_str(&value[..value.find('"').unwrap_or(value.len())]);
            text.push(' ');
        }
        rest = &rest[end..];
    }
    text.push_str(rest);
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The Latin words left in `text` once ids, file names, units and the study area's own name are taken out.
///
/// - ids: any token with a digit (U01, F001, B0FFF2T0JN, node/-1, EPSG:32651) and a standard's code before its
///   number (GB 50180-2018, ISO 19125, RFC 7946);
/// - file names: every file of the input folder, as the data sources table and the banner name them;
/// - units: km, m (km², m², m);
/// - names from input: the study area's `name` in `bmu.toml` and a letter inside a Chinese name (桃浦中央绿地A区);
/// - the program's own name, `bmu`.
fn latin_words(text: &str, area: &Path) -> BTreeMap<String, String> {
    let mut text = text.to_string();
    let mut names: Vec<String> = std::fs::read_dir(area)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let config = std::fs::read_to_string(area.join("bmu.toml")).unwrap();
    let config: toml::Value = toml::from_str(&config).unwrap();
    if let Some(name) = config.get("name").and_then(|n| n.as_str()) {
        names.push(name.to_string());
    }
    // Longest first, so that a file name is not cut by a shorter one it contains.
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in names {
        text = text.replace(&n, " ");
    }
    let cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let chars: Vec<char> = text.chars().collect();
    let token_char = |c: char| c.is_ascii_alphanumeric() || "_/-:.#".contains(c);
    let mut found = BTreeMap::new();
    let mut i = 0;
    while i < chars.len() {
        if !token_char(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && token_char(chars[i]) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let token = token.trim_matches(|c: char| "_/-:.#".contains(c));
        if token.is_empty() || !token.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let next_is_number = chars[i..]
            .iter()
            .find(|c| **c != ' ')
            .is_some_and(|c| c.is_ascii_digit());
        let in_chinese_name = token.len() <= 2
            && start > 0
            && chars.get(start - 1).is_some_and(|c| cjk(*c))
            && chars.get(i).is_some_and(|c| cjk(*c));
        let allowed = token.chars().any(|c| c.is_ascii_digit())
            || (token.chars().all(|c| c.is_ascii_uppercase()) && next_is_number)
            || matches!(token, "km" | "m" | "bmu")
            || in_chinese_name;
        if !allowed {
            let context: String = chars[start.saturating_sub(30)..(i + 30).min(chars.len())]
                .iter()
                .collect();
            found
                .entry(token.to_string())
                .or_insert_with(|| context.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    found
}

fn assert_no_latin_word(area: &Path, extra: &[&str]) {
    let html = dossier_zh(area, extra);
    assert!(html.contains("lang=\"zh-CN\""), "not the Chinese dossier");
    let found = latin_words(&visible_text(&html), area);
    assert!(
        found.is_empty(),
        "{} Latin word(s) in the zh dossier of {}:\n{}",
        found.len(),
        area.display(),
        found
            .iter()
            .map(|(w, c)| format!("  {w:?} in \"{c}\""))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn zh_dossier_of_the_demo_has_no_latin_word_outside_ids_file_names_and_units() {
    assert_no_latin_word(&demo(), &[]);
}

#[test]
fn zh_dossier_with_proposed_sites_has_no_latin_word_outside_ids_file_names_and_units() {
    // Regression: the map legend read "拟新增设施（bmu site）" after `propose --site`.
    assert_no_latin_word(&demo(), &["--site"]);
}

#[test]
fn zh_dossier_of_the_osm_example_has_no_latin_word_outside_ids_file_names_and_units() {
    assert_no_latin_word(&root().join("data/osm"), &[]);
}

#[test]
fn the_latin_word_finder_finds_english_and_spares_ids_file_names_and_units() {
    let area = demo();
    let found = latin_words(
        "单元 U01 面积 2.31 km²，EPSG:32651，GB 50180-2018，roads.osm.geojson，桃浦中央绿地A区，由 bmu 生成；\
         expressway runs 301 m (configured)",
        &area,
    );
    let words: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(words, ["configured", "expressway", "runs"]);
}
