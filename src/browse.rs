//! A file dialog for the "Browse…" button. OFX has no file dialog and some
//! hosts (Resolve) show no file widget for string parameters, so the node runs
//! the platform's own dialog program. `LIVING_PORTRAIT_BROWSE_COMMAND`
//! replaces it (a shell command whose first output line is the chosen path;
//! used by tests and by studios with their own file pickers).

use std::process::Command;

/// The environment variable that replaces the dialog.
pub const BROWSE_COMMAND_ENV: &str = "LIVING_PORTRAIT_BROWSE_COMMAND";

/// Ask the user for a file. `Ok(None)` when the dialog was cancelled; `Err`
/// with a sentence when no dialog program is available.
pub fn choose_file(title: &str) -> Result<Option<String>, String> {
    let candidates: Vec<Command> = if let Ok(cmd) = std::env::var(BROWSE_COMMAND_ENV) {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &cmd]);
        vec![c]
    } else if cfg!(target_os = "macos") {
        let mut c = Command::new("osascript");
        c.args(["-e", &format!("POSIX path of (choose file with prompt \"{}\")", title.replace('"', "'"))]);
        vec![c]
    } else if cfg!(windows) {
        let mut c = Command::new("powershell");
        c.args([
            "-NoProfile",
            "-Command",
            "Add-Type -AssemblyName System.Windows.Forms; $d = New-Object System.Windows.Forms.OpenFileDialog; if ($d.ShowDialog() -eq 'OK') { $d.FileName }",
        ]);
        vec![c]
    } else {
        let mut z = Command::new("zenity");
        z.args(["--file-selection", "--title", title]);
        let mut k = Command::new("kdialog");
        k.args(["--getopenfilename", ".", "*.json *.csv *.pts|Landmark tracks"]);
        vec![z, k]
    };
    for mut c in candidates {
        match c.output() {
            Ok(out) => {
                if !out.status.success() {
                    return Ok(None);
                }
                let line = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string();
                return Ok(if line.is_empty() { None } else { Some(line) });
            }
            Err(_) => continue,
        }
    }
    Err("no file dialog program is available on this machine (zenity or kdialog on Linux)".into())
}
