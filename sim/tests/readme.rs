//! The README says what the code does: its settings table is the settings table.

use netpoll_sim::builder::settings::{markdown_table, SETTINGS};

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).expect("README.md")
}

#[test]
fn the_readme_settings_table_is_the_settings_table() {
    let text = readme();
    let start = "<!-- settings table: generated from sim/src/builder/settings.rs -->\n";
    let end = "<!-- end of settings table -->";
    let (_, rest) = text.split_once(start).expect("the table's start marker");
    let (table, _) = rest.split_once(end).expect("the table's end marker");
    assert_eq!(
        table,
        markdown_table(),
        "README.md's settings table is out of date; the settings table says:\n{}",
        markdown_table()
    );
    assert!(SETTINGS.len() >= 10);
}
