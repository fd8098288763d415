//! `cargo xtask`, `cargo xtask --help` and `cargo xtask <task> --help`, like cargo: the task
//! list with one line each, or one task's options with examples. The options and the one-line
//! summaries come from the xflags declarations in `flags.rs` (declared once); the examples
//! are here.

/// Examples for every task's `--help`, one command a line.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "init",
        &[
            "cargo xtask init --chart charts/grafana-6.1.16.tgz",
            "cargo xtask init --chart charts/my-app --slug my-app --force",
            "cargo xtask init --chart charts/my-app --json   # dry run: print, do not write",
        ],
    ),
    ("check", &["cargo xtask check", "cargo xtask check -f other/release.toml --json"]),
    (
        "release",
        &[
            "cargo xtask release --offline",
            "cargo xtask release                     # also the helm-cli image and the .airgap bundle",
            "cargo xtask release --json > release.json",
            "cargo xtask release --no-proof --timings   # where the time goes, stage by stage",
            "cargo xtask release --channel-id \"$CHANNEL_ID\" --update-cursor \"$BUILD_NUMBER\"   # in CI",
        ],
    ),
    (
        "preview",
        &[
            "cargo xtask preview --set enable_persistence=1",
            "cargo xtask preview --airgap --registry registry.local:5000/apps --json",
        ],
    ),
    (
        "verify",
        &[
            "cargo xtask verify dist/demo-app-1.4.2/demo-app-1.4.2.airgap",
            "cargo xtask verify --proof dist/demo-app-1.4.2 --json",
        ],
    ),
    (
        "inspect",
        &[
            "cargo xtask inspect dist/demo-app-1.4.2",
            "cargo xtask inspect dist/demo-app-1.4.2/demo-app-1.4.2.airgap --json | jq '.images'",
        ],
    ),
    ("clean", &["cargo xtask clean --dry-run", "cargo xtask clean -f other/release.toml"]),
    ("images", &["cargo xtask images", "cargo xtask images --json | jq '.images[].reference'"]),
    ("lock", &["cargo xtask lock", "cargo xtask lock --update"]),
    ("image", &["cargo xtask image", "cargo xtask image --push --json"]),
    (
        "bench",
        &[
            "cargo xtask bench --quick",
            "cargo xtask bench --images 24 --size 1408   # twice the images, 4x the bytes",
        ],
    ),
    ("test", &["cargo xtask test", "cargo xtask test --no-install --test-arg init::"]),
];

const EXIT_CODES: &str =
    "Exit codes: 0 ok, 1 a finding (a failed verify or airgap proof), 2 bad usage or bad input, or any error that stopped the task, 130 Ctrl-C.";

/// One task of the xflags help text.
struct Task {
    name: String,
    summary: String,
    /// The task's options and arguments, as xflags prints them.
    body: String,
}

/// The xflags help text, parsed into the root's options and the tasks.
fn parse() -> (String, Vec<Task>) {
    let help = match crate::flags::Xtask::from_vec(vec!["--help".into()]) {
        Err(error) => error.to_string(),
        Ok(_) => String::new(),
    };
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in help.lines() {
        if line == "xtask" || line.starts_with("xtask ") {
            sections.push((line.to_string(), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    let mut root_options = String::new();
    let mut tasks = Vec::new();
    for (header, lines) in sections {
        let summary = lines.first().map(|line| line.trim().to_string()).unwrap_or_default();
        let body: Vec<&str> =
            lines.iter().skip(1).map(|line| line.strip_prefix("  ").unwrap_or(line)).collect();
        let body = body.join("\n").trim_matches('\n').to_string();
        match header.strip_prefix("xtask ") {
            Some(name) if !tasks.iter().any(|t: &Task| t.name == name) => {
                tasks.push(Task { name: name.to_string(), summary, body })
            }
            Some(_) => {}
            None if root_options.is_empty() => {
                root_options = body.split("SUBCOMMANDS:").next().unwrap_or_default().trim_end().to_string();
            }
            None => {}
        }
    }
    (root_options, tasks)
}

/// `cargo xtask` and `cargo xtask --help`: every task, one line each.
pub fn task_list() -> String {
    let (root_options, tasks) = parse();
    let width = tasks.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut out = String::from(
        "helmkots: build an airgap-ready KOTS release from release.toml and a Helm chart.\n\n\
         Usage: cargo xtask [-q | -v] <TASK> [OPTIONS]\n\nTasks:\n",
    );
    for task in &tasks {
        out.push_str(&format!("    {:<width$}  {}\n", task.name, task.summary));
    }
    out.push_str(&format!("\nGLOBAL {}\n", root_options.trim_start()));
    out.push_str("\nRun `cargo xtask <TASK> --help` for a task's options and examples.\n");
    out.push_str(EXIT_CODES);
    out.push('\n');
    out
}

/// `cargo xtask <task> --help`: the task's options, the global options and examples.
pub fn task_help(name: &str) -> Option<String> {
    let (root_options, tasks) = parse();
    let task = tasks.into_iter().find(|t| t.name == name)?;
    let mut out = format!("cargo xtask {}: {}\n\n", task.name, task.summary);
    if !task.body.is_empty() {
        out.push_str(&task.body);
        out.push_str("\n\n");
    }
    out.push_str(&format!("GLOBAL {}\n", root_options.trim_start()));
    out.push_str("\nEXAMPLES:\n");
    for example in EXAMPLES.iter().find(|(task, _)| *task == name).map_or(&[][..], |(_, e)| e) {
        out.push_str(&format!("  {example}\n"));
    }
    out.push('\n');
    out.push_str(EXIT_CODES);
    out.push('\n');
    Some(out)
}

/// Whether these arguments ask for help, and for which task: `--help`/`-h` anywhere before
/// `--`, `help [TASK]`, or no arguments at all. `Some(None)` is the task list.
pub fn requested(args: &[String]) -> Option<Option<String>> {
    let args: Vec<&str> = args.iter().map(String::as_str).take_while(|a| *a != "--").collect();
    let (_, tasks) = parse();
    let is_task = |arg: &str| tasks.iter().any(|t| t.name == arg);
    let first_task = args.iter().copied().find(|a| !a.starts_with('-'));
    if args.is_empty() || (args.iter().all(|a| a.starts_with('-')) && !args.iter().any(|a| is_help(a))) {
        // `cargo xtask` and `cargo xtask -q`: the task list, as cargo does.
        return args.is_empty().then_some(None);
    }
    if first_task == Some("help") {
        let topic = args.iter().copied().skip_while(|a| *a != "help").nth(1);
        return Some(topic.filter(|t| is_task(t)).map(str::to_string));
    }
    if args.iter().any(|a| is_help(a)) {
        return Some(first_task.filter(|t| is_task(t)).map(str::to_string));
    }
    None
}

/// "Did you mean", as cargo says it, for the arguments xflags refused: the known task nearest
/// to an unknown one, else the known flag of the task nearest to an unknown flag.
pub fn did_you_mean(args: &[String]) -> Option<String> {
    let (root_options, tasks) = parse();
    let args: Vec<&str> = args.iter().map(String::as_str).take_while(|a| *a != "--").collect();
    let task_name = args.iter().copied().find(|a| !a.starts_with('-'))?;
    let Some(task) = tasks.iter().find(|t| t.name == task_name) else {
        let nearest = helmkots::diagnostic::nearest(task_name, tasks.iter().map(|t| t.name.as_str()))?;
        return Some(format!("did you mean `{nearest}`? (`cargo xtask {task_name}` is not a task)"));
    };
    let known = option_flags(&task.body).chain(option_flags(&root_options)).collect::<Vec<_>>();
    args.iter()
        .copied()
        .filter(|arg| arg.starts_with('-') && !is_help(arg))
        .map(|arg| arg.split('=').next().unwrap_or(arg))
        .filter(|flag| !known.contains(flag))
        .find_map(|flag| {
            let nearest = helmkots::diagnostic::nearest(flag, known.iter().copied())?;
            Some(format!("did you mean `{nearest}`? (`{task_name}` has no flag `{flag}`)"))
        })
}

/// The flags of xflags' option lines (`  -f, --file <path>`): `-f` and `--file`.
fn option_flags(body: &str) -> impl Iterator<Item = &str> {
    body.lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with('-'))
        .flat_map(|line| line.split([' ', ',']).take_while(|word| word.starts_with('-') || word.is_empty()))
        .filter(|word| !word.is_empty())
}

fn is_help(arg: &str) -> bool {
    arg == "-h" || arg == "--help"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_summary_and_examples() {
        let (_, tasks) = parse();
        assert!(tasks.len() >= 10, "{} tasks", tasks.len());
        for task in &tasks {
            assert!(!task.summary.is_empty(), "{} has no summary", task.name);
            let examples = EXAMPLES.iter().find(|(name, _)| *name == task.name);
            assert!(examples.is_some_and(|(_, e)| !e.is_empty()), "{} has no example", task.name);
            assert!(task_help(&task.name).unwrap().contains("EXAMPLES:"));
        }
        for (name, examples) in EXAMPLES {
            assert!(tasks.iter().any(|t| t.name == *name), "examples for unknown task {name}");
            let help = task_help(name).unwrap();
            for example in *examples {
                let command = example.split('#').next().unwrap_or_default();
                assert!(command.starts_with(&format!("cargo xtask {name}")), "{example}");
                for flag in command.split_whitespace().filter(|w| w.starts_with('-')) {
                    let flag = flag.split('=').next().unwrap_or(flag);
                    assert!(
                        help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                        "{name}: no flag {flag}"
                    );
                }
            }
        }
    }

    #[test]
    fn mistyped_tasks_and_flags_get_the_nearest_one() {
        let args = |text: &str| text.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let suggested = |text: &str| did_you_mean(&args(text)).unwrap_or_default();
        assert!(suggested("relase").starts_with("did you mean `release`?"), "{}", suggested("relase"));
        assert!(suggested("-q inspetc x").starts_with("did you mean `inspect`?"));
        assert!(suggested("release --ofline").starts_with("did you mean `--offline`?"));
        assert!(suggested("release --offline --no-prof").starts_with("did you mean `--no-proof`?"));
        assert!(suggested("clean --dryrun").starts_with("did you mean `--dry-run`?"));
        assert!(suggested("check --quite").starts_with("did you mean `--quiet`?"), "global flags count");
        assert_eq!(did_you_mean(&args("release --offline")), None, "nothing unknown");
        assert_eq!(did_you_mean(&args("zzzzzz")), None, "nothing near");
        assert_eq!(did_you_mean(&args("test --test-arg -- --ofline")), None, "after `--` is not ours");
    }

    #[test]
    fn help_requests() {
        let args = |text: &str| text.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(requested(&args("")), Some(None));
        assert_eq!(requested(&args("--help")), Some(None));
        assert_eq!(requested(&args("-h")), Some(None));
        assert_eq!(requested(&args("help")), Some(None));
        assert_eq!(requested(&args("help release")), Some(Some("release".into())));
        assert_eq!(requested(&args("release --help")), Some(Some("release".into())));
        assert_eq!(requested(&args("-q release -h --offline")), Some(Some("release".into())));
        assert_eq!(requested(&args("release --offline")), None);
        assert_eq!(requested(&args("-q")), None);
        assert_eq!(requested(&args("test --test-arg -- --help")), None);
    }
}
