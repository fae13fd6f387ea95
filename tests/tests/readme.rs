//! The config example in README.md is a valid config.

use gateway_core::PolicyRegistry;
use gateway_core::config::load_file_text;

#[test]
fn readme_config_example_loads() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme.find("```yaml\n").expect("a yaml block in README.md") + "```yaml\n".len();
    let len = readme[start..].find("```").expect("closed yaml block");
    let yaml = &readme[start..start + len];
    assert!(yaml.contains("routes:"), "the block is the config example");
    if let Err(e) = load_file_text("README.md", yaml, &PolicyRegistry::builtin()) {
        panic!("README config example is invalid:\n{e}");
    }
}
