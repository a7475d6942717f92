import { choicesOf, type OptionSpec } from "./options.ts";
import { type CompletionShell, GLOBAL_FLAGS } from "./parse.ts";
import { acceptedOptions } from "./plan.ts";
import { visibleTasks } from "./render.ts";
import { type Catalog, summaryOf } from "./task.ts";

interface CompletionData {
	tasks: { name: string; summary: string; flags: { flag: string; doc: string }[] }[];
	/** Options that take a value, with the values to offer (none: complete file names). */
	valued: Map<string, readonly string[] | undefined>;
}

const RUNNER_FLAGS = [
	{ flag: "--dry-run", doc: GLOBAL_FLAGS["dry-run"].doc },
	{ flag: "--help", doc: GLOBAL_FLAGS.help.doc },
];
const TOP_FLAGS = [
	{ flag: "--list", doc: GLOBAL_FLAGS.list.doc },
	{ flag: "--json", doc: GLOBAL_FLAGS.json.doc },
	{ flag: "--help", doc: GLOBAL_FLAGS.help.doc },
	{ flag: "--completions", doc: GLOBAL_FLAGS.completions.doc },
	{ flag: "--version", doc: GLOBAL_FLAGS.version.doc },
];

function flagsOf(name: string, spec: OptionSpec) {
	const flags = [{ flag: `--${name}`, doc: spec.doc }];
	if (spec.type === "boolean") flags.push({ flag: `--no-${name}`, doc: `Turn --${name} off.` });
	return flags;
}

/** A completion script is generated whatever state the data files are in: no values then. */
function choicesOrNone(spec: OptionSpec): readonly string[] | undefined {
	try {
		return choicesOf(spec);
	} catch {
		return undefined;
	}
}

function collect(catalog: Catalog): CompletionData {
	const valued = new Map<string, readonly string[] | undefined>([
		["completions", ["bash", "zsh", "fish"]],
	]);
	const tasks = visibleTasks(catalog).map((name) => {
		const options = Object.entries(acceptedOptions(catalog, name));
		for (const [option, spec] of options) {
			if (spec.type === "string") valued.set(option, choicesOrNone(spec));
		}
		const definition = catalog[name];
		return {
			name,
			summary: definition ? summaryOf(definition) : "",
			flags: [...options.flatMap(([option, spec]) => flagsOf(option, spec)), ...RUNNER_FLAGS],
		};
	});
	return { tasks, valued };
}

/** Quotes for a single-quoted bash/zsh word. */
function shQuote(text: string): string {
	return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Quotes for a single-quoted fish word. */
function fishQuote(text: string): string {
	return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function valuedPattern(data: CompletionData): string {
	return [...data.valued.keys()].map((name) => `--${name}`).join("|");
}

function bash(data: CompletionData): string {
	const valueCases = [...data.valued].map(([name, choices]) =>
		choices === undefined
			? `\t\t--${name}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`
			: `\t\t--${name}) COMPREPLY=($(compgen -W ${shQuote(choices.join(" "))} -- "$cur")); return ;;`,
	);
	const flagCases = data.tasks.map(
		(task) => `\t\t\t${task.name}) flags=${shQuote(task.flags.map((f) => f.flag).join(" "))} ;;`,
	);
	return `# bun task completions for bash. Load them with: eval "$(bun task --completions bash)"
__bun_task_previous=$(complete -p bun 2>/dev/null | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
__bun_task_complete() {
	if [[ \${COMP_WORDS[1]} != task ]]; then
		if [[ -n $__bun_task_previous && $__bun_task_previous != __bun_task_complete ]]; then
			"$__bun_task_previous" "$@"
		fi
		return
	fi
	local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} task="" i word
	if [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
	if [[ $cur == = ]]; then cur=""; fi
	for ((i = 2; i < COMP_CWORD; i++)); do
		word=\${COMP_WORDS[i]}
		if [[ $word == -- ]]; then return; fi
		if [[ $word == -* || $word == = || \${COMP_WORDS[i-1]} == = ]]; then continue; fi
		case \${COMP_WORDS[i-1]} in ${valuedPattern(data)}) continue ;; esac
		task=$word
		break
	done
	case $prev in
${valueCases.join("\n")}
	esac
	if [[ $cur == -* ]]; then
		local flags=${shQuote(TOP_FLAGS.map((f) => f.flag).join(" "))}
		case $task in
${flagCases.join("\n")}
		esac
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	else
		COMPREPLY=($(compgen -W ${shQuote(data.tasks.map((t) => t.name).join(" "))} -- "$cur"))
	fi
}
complete -F __bun_task_complete bun
`;
}

function zshDescribe(items: { name: string; doc: string }[]): string {
	return `(${items.map((item) => shQuote(`${item.name.replaceAll(":", "\\:")}:${item.doc}`)).join(" ")})`;
}

function zsh(data: CompletionData): string {
	const valueCases = [...data.valued].map(([name, choices]) =>
		choices === undefined
			? `\t\t--${name}) _files; return ;;`
			: `\t\t--${name}) compadd -- ${choices.map(shQuote).join(" ")}; return ;;`,
	);
	const flagCases = data.tasks.map(
		(task) =>
			`\t\t\t${task.name}) flags=${zshDescribe(task.flags.map((f) => ({ name: f.flag, doc: f.doc })))} ;;`,
	);
	const tasks = zshDescribe(data.tasks.map((t) => ({ name: t.name, doc: t.summary })));
	return `#compdef bun
# bun task completions for zsh. Load them with: source <(bun task --completions zsh)
# (after compinit).
typeset -g __bun_task_previous=\${_comps[bun]:-}
__bun_task_complete() {
	if [[ \${words[2]} != task ]]; then
		if [[ -n $__bun_task_previous && $__bun_task_previous != __bun_task_complete ]]; then
			$__bun_task_previous "$@"
		fi
		return
	fi
	local task="" i
	for (( i = 3; i < CURRENT; i++ )); do
		[[ \${words[i]} == -- ]] && return
		[[ \${words[i]} == -* ]] && continue
		case \${words[i-1]} in ${valuedPattern(data)}) continue ;; esac
		task=\${words[i]}
		break
	done
	case \${words[CURRENT-1]} in
${valueCases.join("\n")}
	esac
	if [[ \${words[CURRENT]} == -* ]]; then
		local -a flags
		flags=${zshDescribe(TOP_FLAGS.map((f) => ({ name: f.flag, doc: f.doc })))}
		case $task in
${flagCases.join("\n")}
		esac
		_describe -t options option flags
	else
		local -a tasks
		tasks=${tasks}
		_describe -t tasks task tasks
	fi
}
compdef __bun_task_complete bun
`;
}

function fish(data: CompletionData): string {
	const inTask = "__fish_seen_subcommand_from task";
	const names = data.tasks.map((t) => t.name).join(" ");
	const lines = [
		"# bun task completions for fish. Load them with: bun task --completions fish | source",
		`complete -c bun -n ${fishQuote(inTask)} -f`,
	];
	for (const task of data.tasks) {
		lines.push(
			`complete -c bun -n ${fishQuote(inTask)} -f -a ${fishQuote(task.name)} -d ${fishQuote(task.summary)}`,
		);
	}
	for (const flag of TOP_FLAGS) {
		const choices = data.valued.get(flag.flag.slice(2));
		const values = choices ? ` -x -a ${fishQuote(choices.join(" "))}` : "";
		lines.push(
			`complete -c bun -n ${fishQuote(`${inTask}; and not __fish_seen_subcommand_from ${names}`)} -l ${flag.flag.slice(2)}${values} -d ${fishQuote(flag.doc)}`,
		);
	}
	for (const task of data.tasks) {
		const condition = fishQuote(`${inTask}; and __fish_seen_subcommand_from ${task.name}`);
		for (const flag of task.flags) {
			const name = flag.flag.slice(2);
			const hasValue = data.valued.has(name);
			const choices = data.valued.get(name);
			const values = hasValue
				? choices
					? ` -x -a ${fishQuote(choices.join(" "))}`
					: " -r -F"
				: "";
			lines.push(`complete -c bun -n ${condition} -l ${name}${values} -d ${fishQuote(flag.doc)}`);
		}
	}
	return `${lines.join("\n")}\n`;
}

/** `bun task --completions <shell>`: a script completing task names, options and their values. */
export function renderCompletions(catalog: Catalog, shell: CompletionShell): string {
	const data = collect(catalog);
	if (shell === "bash") return bash(data);
	if (shell === "zsh") return zsh(data);
	return fish(data);
}
