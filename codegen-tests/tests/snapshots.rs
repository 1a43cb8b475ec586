//! The source every backend receives for every public kernel, as reviewed snapshots
//! (`cargo insta test -p cubeaudio-codegen-tests`, then `cargo insta review`), plus validation:
//! SPIR-V through `spirv-val`, WGSL through naga.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use cubeaudio_codegen_tests::{generate, registry, spirv_words, validate_wgsl, Target};

#[test]
fn snapshots_of_every_kernel_on_every_target() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for case in registry() {
            for target in Target::ALL {
                let text =
                    generate(&case, target).unwrap_or_else(|e| panic!("{} on {}: {e}", case.name, target.name()));
                insta::assert_snapshot!(format!("{}__{}", case.name, target.name()), text);
            }
        }
    });
}

/// Repeated generations agree (the snapshots compare across processes too): after
/// normalisation the text is deterministic.
#[test]
fn generation_is_deterministic() {
    for case in registry() {
        for target in Target::ALL {
            let first = generate(&case, target);
            for _ in 0..20 {
                assert_eq!(first, generate(&case, target), "{} on {}", case.name, target.name());
            }
        }
    }
}

/// Every `#[cube(launch)]` kernel in kernels/src and nam/src has at least one registered case,
/// and every registered case names such a kernel.
#[test]
fn every_public_kernel_is_registered() {
    let mut kernels = BTreeSet::new();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![here.join("../kernels/src"), here.join("../nam/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines = text.lines();
                while let Some(line) = lines.next() {
                    if line.trim_start().starts_with("#[cube(launch") {
                        let sig = lines.next().unwrap_or_default();
                        let name = sig
                            .trim_start()
                            .trim_start_matches("pub ")
                            .trim_start_matches("fn ")
                            .split(['(', '<'])
                            .next()
                            .unwrap()
                            .to_string();
                        kernels.insert(name);
                    }
                }
            }
        }
    }
    assert!(kernels.len() >= 19, "the scan found only {kernels:?}");
    let registered: BTreeSet<String> = registry().iter().map(|c| c.kernel.to_string()).collect();
    let missing: Vec<_> = kernels.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "public kernels without snapshots: {missing:?} (add them to codegen-tests/src/registry.rs)"
    );
    let unknown: Vec<_> = registered.difference(&kernels).collect();
    assert!(unknown.is_empty(), "registered cases that name no kernel: {unknown:?}");
}

#[test]
fn wgsl_passes_naga_validation() {
    for case in registry() {
        let text = generate(&case, Target::Wgsl).unwrap();
        validate_wgsl(&text).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    }
}

#[test]
fn spirv_passes_spirv_val() {
    let Ok(out) = Command::new("spirv-val").arg("--version").output() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("spirv-val not found (install spirv-tools): SPIR-V validation is required in CI");
        }
        eprintln!("SKIPPED spirv-val validation: spirv-val not found (apt-get install spirv-tools)");
        return;
    };
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("cubeaudio-spirv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for case in registry() {
        let words = spirv_words(&case).unwrap();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let path = dir.join(format!("{}.spv", case.name));
        std::fs::write(&path, bytes).unwrap();
        let result = Command::new("spirv-val").args(["--target-env", "vulkan1.3"]).arg(&path).output().unwrap();
        assert!(result.status.success(), "{}: {}", case.name, String::from_utf8_lossy(&result.stderr));
        println!("spirv-val ok: {}", case.name);
    }
}

#[test]
#[ignore = "diagnostic: prints the first differing lines of two generations"]
fn show_nondeterminism() {
    for case in registry() {
        for target in Target::ALL {
            let (a, b) = (generate(&case, target).unwrap(), generate(&case, target).unwrap());
            if a != b {
                for (x, y) in a.lines().zip(b.lines()).filter(|(x, y)| x != y).take(6) {
                    println!("{} {}:\n  - {x}\n  + {y}", case.name, target.name());
                }
            }
        }
    }
}
