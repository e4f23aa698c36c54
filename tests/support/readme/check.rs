//! The check of a README command: the programs, subcommands, flags, packages, binaries,
//! profiles and files it names exist in this workspace.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use pipelines_emulator::{binary_dir, workspace_root};
use serde_json::Value;

use super::ShellCommand;

/// Folders of the repository: a word starting with one names a file that must exist.
const REPOSITORY_FOLDERS: &[&str] = &[
    "scripts/",
    "events/",
    "infra/",
    "tests/",
    "examples/",
    "shared/",
    "handlers/",
    "fuzz/",
    "bench/",
    ".venv/bin/",
];

/// What the workspace offers a command: its packages, binaries, profiles and fuzz targets.
pub struct Workspace {
    /// Its packages.
    pub packages: BTreeSet<String>,
    /// Its binaries.
    pub binaries: BTreeSet<String>,
    profiles: BTreeSet<String>,
    fuzz_targets: BTreeSet<String>,
    help: HashMap<Vec<String>, String>,
}

impl Workspace {
    /// Reads the workspace's metadata, `Cargo.toml`'s profiles and the fuzz targets.
    pub fn read() -> Self {
        let metadata = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .current_dir(workspace_root())
            .output()
            .unwrap();
        assert!(
            metadata.status.success(),
            "{}",
            String::from_utf8_lossy(&metadata.stderr)
        );
        let metadata: Value = serde_json::from_slice(&metadata.stdout).unwrap();
        let mut packages = BTreeSet::new();
        let mut binaries = BTreeSet::new();
        for package in metadata["packages"].as_array().unwrap() {
            packages.insert(package["name"].as_str().unwrap().to_owned());
            for target in package["targets"].as_array().unwrap() {
                if target["kind"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k == "bin")
                {
                    binaries.insert(target["name"].as_str().unwrap().to_owned());
                }
            }
        }
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        let mut profiles: BTreeSet<String> = ["dev", "release", "test", "bench"]
            .map(str::to_owned)
            .into();
        profiles.extend(
            manifest
                .lines()
                .filter_map(|l| l.strip_prefix("[profile.")?.strip_suffix(']'))
                .map(str::to_owned),
        );
        let fuzz = std::fs::read_to_string(workspace_root().join("fuzz/Cargo.toml")).unwrap();
        let fuzz_targets = fuzz
            .split("[[bin]]")
            .skip(1)
            .filter_map(|bin| bin.lines().find_map(|l| l.strip_prefix("name = ")))
            .map(|name| name.trim_matches('"').to_owned())
            .collect();
        Self {
            packages,
            binaries,
            profiles,
            fuzz_targets,
            help: HashMap::new(),
        }
    }

    /// What the `--help` of `program sub` does not list among the flags of `rest`, and
    /// the values it does not take where it lists its possible values.
    fn unknown_flags(&mut self, program: &Path, sub: &[&str], rest: &[String]) -> Vec<String> {
        let help = match self.help(program, sub) {
            Ok(help) => help,
            Err(e) => return vec![e],
        };
        let name = format!("`{} {}`", program.display(), sub.join(" "));
        let mut unknown: Vec<String> = flags(rest)
            .into_iter()
            .filter(|f| !lists(&help, f))
            .map(|f| format!("{name} has no {f}"))
            .collect();
        for pair in rest.windows(2) {
            let Some(possible) = possible_values(&help, &pair[0]) else {
                continue;
            };
            unknown.extend(
                pair[1]
                    .split(',')
                    .filter(|v| !possible.contains(&v.to_string()))
                    .map(|v| format!("{name} {} takes no {v} (only {possible:?})", pair[0])),
            );
        }
        unknown
    }

    /// The `--help` text of a program's subcommand (cached).
    fn help(&mut self, program: &Path, args: &[&str]) -> Result<String, String> {
        let mut key = vec![program.display().to_string()];
        key.extend(args.iter().map(|a| a.to_string()));
        if let Some(text) = self.help.get(&key) {
            return Ok(text.clone());
        }
        let output = std::process::Command::new(program)
            .args(args)
            .arg("--help")
            .current_dir(workspace_root())
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if !output.status.success() {
            return Err(format!(
                "`{} {} --help` fails: {}",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        self.help.insert(key, text.clone());
        Ok(text)
    }
}

/// The flags of `words` (up to a `--`), as written: `--flag`, `--flag=value`, `-p`.
fn flags(words: &[String]) -> Vec<&str> {
    words
        .iter()
        .take_while(|w| *w != "--")
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .map(|w| w.split('=').next().unwrap())
        .collect()
}

/// The values clap lists for `flag` (`[possible values: a, b]`), if it lists them.
fn possible_values(help: &str, flag: &str) -> Option<Vec<String>> {
    let line = help
        .lines()
        .find(|l| l.trim_start().split([' ', ',']).any(|w| w == flag))?;
    let list = line.split("[possible values: ").nth(1)?.split(']').next()?;
    Some(list.split(", ").map(str::to_owned).collect())
}

/// Whether `help` lists `flag` as a word of its own.
fn lists(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + flag.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// Every path of the repository a command names: words, and the parts of `NAME=value`
/// and of quoted commands inside them.
fn repository_paths(command: &ShellCommand) -> Vec<String> {
    command
        .words
        .iter()
        .flat_map(|w| w.split([' ', '=']))
        .filter(|part| REPOSITORY_FOLDERS.iter().any(|f| part.starts_with(f)))
        .map(str::to_owned)
        .collect()
}

/// What is wrong with one README command, if anything; `cwd` is where it runs.
pub fn problems(command: &ShellCommand, workspace: &mut Workspace, cwd: &Path) -> Vec<String> {
    let mut problems: Vec<String> = repository_paths(command)
        .into_iter()
        .filter(|p| !cwd.join(p).exists())
        .map(|p| format!("{p} does not exist"))
        .collect();
    let words: Vec<&str> = command.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        // scripts/bench passes its arguments to the bench binary.
        ["scripts/bench", ..] => problems.extend(workspace.unknown_flags(
            &binary_dir().join("bench"),
            &[],
            &command.words[1..],
        )),
        ["cargo", "run", "-p", package, "--", ..] if workspace.binaries.contains(*package) => {
            problems.extend(workspace.unknown_flags(
                &binary_dir().join(package),
                &[],
                &command.words[5..],
            ))
        }
        [script, ..] if script.starts_with("scripts/") => {
            if !cwd.join(script).is_file() {
                problems.push(format!("no script {script}"));
            }
        }
        [binary, rest @ ..]
            if binary.starts_with("target/debug/")
                || ["pipeline-steps", "pipelines-emulator"].contains(binary) =>
        {
            let name = binary.trim_start_matches("target/debug/");
            match rest.first().filter(|w| !w.starts_with('-')) {
                Some(sub) => problems.extend(workspace.unknown_flags(
                    &binary_dir().join(name),
                    &[sub],
                    &command.words[2..],
                )),
                None => problems.extend(workspace.unknown_flags(
                    &binary_dir().join(name),
                    &[],
                    &command.words[1..],
                )),
            }
        }
        ["cargo", "lambda", sub, ..] => {
            let cargo_lambda = workspace_root().join(".venv/bin/cargo-lambda");
            problems.extend(workspace.unknown_flags(
                &cargo_lambda,
                &["lambda", sub],
                &command.words[3..],
            ));
            if *sub == "invoke" {
                if let Some(function) = words.get(3).filter(|w| !w.starts_with('-')) {
                    if !workspace.binaries.contains(*function) {
                        problems.push(format!("no binary {function} to invoke"));
                    }
                }
            }
        }
        ["cargo", "fuzz", "run", target, ..] => {
            if !workspace.fuzz_targets.contains(*target) {
                problems.push(format!("no fuzz target {target}"));
            }
        }
        ["cargo", "test" | "run" | "build" | "doc" | "install", ..] => {}
        ["sam", "build" | "deploy", ..] => {}
        ["aws", ..] => {}
        ["eval", inner] => match inner.strip_prefix("$(").and_then(|c| c.strip_suffix(')')) {
            Some(inner) => {
                let words = shlex::split(inner).unwrap_or_default();
                let inner = ShellCommand {
                    line: command.line,
                    env: Vec::new(),
                    words,
                };
                problems.extend(self::problems(&inner, workspace, cwd));
            }
            None => problems.push("eval of something other than $(command)".into()),
        },
        ["cd", _] => {}
        // The wheel's install, as a Python user types it (scripts/wheel-check runs it).
        ["pip", "install", wheel] if wheel.starts_with("target/wheels/") => {}
        ["rustup", "target", "add", _] => {}
        _ => problems.push("a program this test does not know: add a check for it".into()),
    }
    for package in command.values_of("-p") {
        if !workspace.packages.contains(package) {
            problems.push(format!("no package {package}"));
        }
    }
    for binary in command.values_of("--bin") {
        if !workspace.binaries.contains(binary) {
            problems.push(format!("no binary {binary}"));
        }
    }
    for profile in command.values_of("--profile") {
        if !workspace.profiles.contains(profile) {
            problems.push(format!("no profile {profile}"));
        }
    }
    problems
}
