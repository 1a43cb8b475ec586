//! The largest `.nam` file accepted parses within a bound and a larger one is refused unread
//! (issue #16, defect 6: a 250 MB weights array peaked at 4.6 GB). Alone in its binary: the
//! peak is measured over the process's waited children.
#![cfg(unix)] // getrusage

mod peak_memory;

use std::process::Command;

use peak_memory::children_peak_mb;

/// The worst case for parse memory per byte: a weights array of `0,` at just under the file
/// limit (32 MB: 16.7 million numbers), through `cubeaudio info`; one byte more than the limit
/// is refused without being parsed.
#[test]
fn model_files_parse_in_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let limit = cubeaudio_nam::loader::MAX_FILE_BYTES as usize;
    let head = r#"{"version": "0.5.4", "architecture": "Linear", "config": {"receptive_field": 2, "bias": false}, "weights": [0"#;
    let zeros = (limit - head.len() - 2) / 2;
    let mut text = String::with_capacity(limit);
    text.push_str(head);
    for _ in 0..zeros {
        text.push_str(",0");
    }
    text.push_str("]}");
    let just_inside = dir.join("inside.nam");
    std::fs::write(&just_inside, &text).unwrap();
    text.insert_str(text.len() - 2, &",0".repeat(limit));
    let beyond = dir.join("beyond.nam");
    std::fs::write(&beyond, &text).unwrap();
    for (path, refused_unread) in [(&just_inside, false), (&beyond, true)] {
        let run = Command::new(env!("CARGO_BIN_EXE_cubeaudio")).arg("info").arg(path).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        println!(
            "{}: {} bytes: exit {:?}: {}",
            path.display(),
            std::fs::metadata(path).unwrap().len(),
            run.status.code(),
            stderr.trim()
        );
        assert_eq!(run.status.code(), Some(1));
        if refused_unread {
            assert!(stderr.contains("33554432"), "{stderr}");
        } else {
            assert!(stderr.contains("weight mismatch"), "{stderr}");
        }
    }
    let peak = children_peak_mb();
    println!("peak resident memory of the largest child so far: {peak} MB");
    assert!(peak < 700, "parsing peaked at {peak} MB");
    std::fs::remove_dir_all(&dir).unwrap();
}
