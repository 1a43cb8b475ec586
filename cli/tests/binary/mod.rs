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
