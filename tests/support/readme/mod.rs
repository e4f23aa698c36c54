//! The README's code, read as a newcomer would copy it: its fenced blocks, and the shell
//! commands of its `sh` blocks split into words as the shell splits them.

use std::path::PathBuf;

pub mod check;

/// A fenced code block of the README.
#[derive(Debug, Clone)]
pub struct CodeBlock {
    /// The fence's language (`sh`, `rust`, `json`, ...), empty when it names none.
    pub language: String,
    /// The text between the fences, without the indentation of a block in a list item.
    pub text: String,
    /// The line of the opening fence (1-based), for messages.
    pub line: usize,
}

/// One command of an `sh` block: what a newcomer would type.
#[derive(Debug, Clone)]
pub struct ShellCommand {
    /// The line of the README it starts on (1-based).
    pub line: usize,
    /// `NAME=value` words before the program.
    pub env: Vec<(String, String)>,
    /// The program and its arguments, quotes removed.
    pub words: Vec<String>,
}

impl ShellCommand {
    /// The words joined with spaces, for messages and for matching.
    pub fn text(&self) -> String {
        self.words.join(" ")
    }

    /// The value after `flag` in each place it appears.
    pub fn values_of(&self, flag: &str) -> Vec<&str> {
        self.words
            .windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }
}

/// The README and the guides of `docs/`, each with its path from the workspace root:
/// the documentation a newcomer reads, every command of it checked.
pub fn documents() -> Vec<(String, String)> {
    let root = pipelines_emulator::workspace_root();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "md"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths.insert(0, root.join("README.md"));
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            (name, text)
        })
        .collect()
}

/// The README and the guides as one text (for finding an example wherever it lives).
pub fn readme() -> String {
    documents()
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every fenced block of `markdown`, fences indented in list items included.
pub fn code_blocks(markdown: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, usize, Vec<&str>)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some(language) = trimmed.strip_prefix("```") {
                    open = Some((index + 1, language.trim().to_owned(), indent, Vec::new()));
                }
            }
            Some((start, language, fence_indent, lines)) => {
                if trimmed == "```" && indent == *fence_indent {
                    blocks.push(CodeBlock {
                        language: std::mem::take(language),
                        text: lines.join("\n"),
                        line: *start,
                    });
                    open = None;
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|(i, c)| *i < *fence_indent && *c == ' ')
                        .count();
                    lines.push(&line[cut..]);
                }
            }
        }
    }
    assert!(open.is_none(), "the README has an unclosed code block");
    blocks
}

/// The blocks of one language.
pub fn blocks_of(markdown: &str, language: &str) -> Vec<CodeBlock> {
    code_blocks(markdown)
        .into_iter()
        .filter(|b| b.language == language)
        .collect()
}

/// The commands of every `sh` block: lines continued with `\` joined, comments dropped,
/// `a && b` split in two, leading `NAME=value` words taken as the environment.
pub fn shell_commands(markdown: &str) -> Vec<ShellCommand> {
    let mut commands = Vec::new();
    for block in blocks_of(markdown, "sh") {
        let mut pending = String::new();
        let mut pending_line = 0;
        for (offset, line) in block.text.lines().enumerate() {
            if pending.is_empty() {
                pending_line = block.line + 1 + offset;
            }
            match line.strip_suffix('\\') {
                Some(continued) => {
                    pending.push_str(continued);
                    pending.push(' ');
                }
                None => {
                    pending.push_str(line);
                    let text = std::mem::take(&mut pending);
                    let words = shlex::split(&text).unwrap_or_else(|| {
                        panic!("README line {pending_line}: the shell cannot split `{text}`")
                    });
                    for part in words.split(|w| w == "&&").filter(|p| !p.is_empty()) {
                        commands.push(command(pending_line, part));
                    }
                }
            }
        }
    }
    commands
}

fn command(line: usize, words: &[String]) -> ShellCommand {
    // `name=$(program args)`: the command is the one substituted.
    if let Some((_, substituted)) = words
        .first()
        .and_then(|w| w.split_once("=$("))
        .filter(|_| words.last().is_some_and(|w| w.ends_with(')')))
    {
        let mut inner: Vec<String> = std::iter::once(substituted.to_owned())
            .chain(words[1..].iter().cloned())
            .collect();
        let last = inner.last_mut().unwrap();
        last.pop();
        inner.retain(|w| !w.is_empty());
        return command(line, &inner);
    }
    let assignments = words
        .iter()
        .take_while(|w| {
            w.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
            })
        })
        .count();
    ShellCommand {
        line,
        env: words[..assignments]
            .iter()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        words: words[assignments..].to_vec(),
    }
}

/// The programs a code span of the prose must start with to be taken as a command.
const PROGRAMS: &[&str] = &[
    "scripts/",
    "target/debug/",
    "cargo",
    "pipelines-emulator",
    "pipeline-steps",
    "eval",
    "sam",
    "aws",
];

/// The commands written inline in the prose (`` `scripts/demo --param ...` ``): code
/// spans, across a line break too, whose first word (after `NAME=value` words) is one of
/// the programs the README runs. Their line is the line the span starts on.
pub fn inline_commands(markdown: &str) -> Vec<ShellCommand> {
    let mut prose = String::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            prose.push('\n');
            continue;
        }
        if !in_block {
            prose.push_str(line);
        }
        prose.push('\n');
    }
    let mut commands = Vec::new();
    let mut rest = prose.as_str();
    let mut offset = 0;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else { break };
        let span = &after[..close];
        let line = 1 + prose[..offset + open].matches('\n').count();
        if let Some(words) = shlex::split(&span.replace('\n', " ")) {
            let command = command(line, &words);
            // A path program (`scripts/setup`) alone is a command; a plain one
            // (`cargo`, `sam`) only with arguments, so that naming a tool is not.
            let is_command = command.words.first().is_some_and(|w| {
                PROGRAMS.iter().any(|p| match p.strip_suffix('/') {
                    Some(_) => w.len() > p.len() && w.starts_with(p),
                    None => w == p && command.words.len() > 1,
                })
            });
            if is_command {
                commands.push(command);
            }
        }
        offset += open + 1 + close + 1;
        rest = &prose[offset..];
    }
    commands
}

/// The README's one command whose text starts with `prefix`; panics naming the prefix
/// when there is none or more than one, so that a test built on a README command fails
/// when the README changes it.
pub fn command_starting_with(prefix: &str) -> ShellCommand {
    let found: Vec<ShellCommand> = shell_commands(&readme())
        .into_iter()
        .filter(|c| c.text().starts_with(prefix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the README should show one command starting with `{prefix}`: {found:#?}"
    );
    found.into_iter().next().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKDOWN: &str = "text\n\n```sh\nscripts/demo   # the main job\n# a comment\nFOO=1 cargo lambda watch \\\n  --bin \"lambda step\"\ncd fuzz && cargo fuzz run x\narn=$(aws sagemaker list-pipelines --query 'a b')\n```\n\n1. item\n\n   ```json\n   {\"a\": 1}\n   ```\n";

    #[test]
    fn blocks_keep_their_language_and_lose_list_indentation() {
        let blocks = code_blocks(MARKDOWN);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].language, "json");
        assert_eq!(blocks[1].text, "{\"a\": 1}");
        assert_eq!(blocks[1].line, 14);
    }

    #[test]
    fn inline_commands_are_the_spans_that_start_with_a_program() {
        let markdown = "Run `scripts/demo --param\nClusterId=j-NOSUCH`; the `--mocks` flag;\n```sh\n`cargo` x\n```\nthen `cargo doc -p x` , `Steps.A`, `sam`, `aws.emr` and `target/debug`.";
        let commands: Vec<(usize, String)> = inline_commands(markdown)
            .iter()
            .map(|c| (c.line, c.text()))
            .collect();
        assert_eq!(
            commands,
            [
                (1, "scripts/demo --param ClusterId=j-NOSUCH".to_owned()),
                (6, "cargo doc -p x".to_owned())
            ]
        );
    }

    #[test]
    fn commands_are_split_as_the_shell_splits_them() {
        let commands = shell_commands(MARKDOWN);
        let texts: Vec<String> = commands.iter().map(ShellCommand::text).collect();
        assert_eq!(
            texts,
            [
                "scripts/demo",
                "cargo lambda watch --bin lambda step",
                "cd fuzz",
                "cargo fuzz run x",
                "aws sagemaker list-pipelines --query a b"
            ]
        );
        assert_eq!(commands[1].env, [("FOO".to_owned(), "1".to_owned())]);
        assert_eq!(commands[1].values_of("--bin"), ["lambda step"]);
        assert_eq!(commands[1].line, 6);
        assert_eq!(commands[3].line, 8);
    }
}
