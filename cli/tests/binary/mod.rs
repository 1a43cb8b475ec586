//! Running the `cubeaudio` binary the way a user does, for the tests that check what they see.

use std::process::Command;

/// Runs `cubeaudio ARGS`; returns the exit code (−1 when killed by a signal), stdout and stderr.
pub fn cubeaudio(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cubeaudio")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `cubeaudio render --model M --input I --output O EXTRA…`, which must succeed; returns stdout.
#[allow(dead_code)] // not every test binary renders
pub fn render(model: &std::path::Path, input: &std::path::Path, output: &std::path::Path, extra: &[&str]) -> String {
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (m, i, o) = (path(model), path(input), path(output));
    let mut args = vec!["render", "--model", &m, "--input", &i, "--output", &o];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = cubeaudio(&args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}
