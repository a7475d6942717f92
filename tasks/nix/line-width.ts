/**
 * The commonest departure from nixfmt's shape, found without nixfmt: a line
 * wider than its 100 columns that nixfmt would have broken. Measured after the
 * indentation, where nixfmt 1.x itself is lenient; and nixfmt leaves some long
 * lines alone (it never breaks inside a string), so those are not reported:
 * lines inside an indented string, a line that is one string (after `name =`,
 * or alone), and a line that is one token (an attribute path).
 */

/** nixfmt's default width. */
export const NIX_LINE_WIDTH = 100;

export interface WideLine {
	line: number;
	/** The line's width after its indentation. */
	columns: number;
}

/**
 * Each line of Nix source with its strings marked: `shape` is the line with
 * every string literal (and its interpolations) replaced by `S`, and
 * `inIndentedString` says whether the line begins inside a `''…''` string.
 */
function shapes(source: string): { text: string; shape: string; inIndentedString: boolean }[] {
	type Mode = "code" | "string" | "indented";
	// A stack: a string may hold `${ … }` code, which may hold strings again.
	const modes: { mode: Mode; braces: number }[] = [{ mode: "code", braces: 0 }];
	const lines: { text: string; shape: string; inIndentedString: boolean }[] = [];
	let shape = "";
	let start = 0;
	let startsIndented = false;
	const top = () => modes[modes.length - 1] as { mode: Mode; braces: number };
	for (let i = 0; i < source.length; i++) {
		const c = source[i] ?? "";
		const next = source[i + 1] ?? "";
		const frame = top();
		if (c === "\n") {
			lines.push({ text: source.slice(start, i), shape, inIndentedString: startsIndented });
			start = i + 1;
			shape = "";
			startsIndented = modes.some((m) => m.mode === "indented");
			continue;
		}
		if (frame.mode === "code") {
			// Code inside an interpolation belongs to its string: it adds nothing to the shape.
			const mark = modes.length === 1 ? (text: string) => (shape += text) : () => {};
			if (c === "#") {
				// A comment runs to the end of the line.
				const end = source.indexOf("\n", i);
				i = (end === -1 ? source.length : end) - 1;
				continue;
			}
			if (c === '"') {
				mark("S");
				modes.push({ mode: "string", braces: 0 });
			} else if (c === "'" && next === "'") {
				mark("S");
				modes.push({ mode: "indented", braces: 0 });
				i++;
			} else if (c === "}" && frame.braces === 0 && modes.length > 1) {
				modes.pop(); // the end of an interpolation: back in its string
			} else {
				if (c === "{") frame.braces++;
				if (c === "}") frame.braces--;
				mark(c);
			}
			continue;
		}
		// Inside a string: only its end and interpolations matter.
		if (frame.mode === "string" && c === "\\") {
			i++;
		} else if (frame.mode === "string" && c === '"') {
			modes.pop();
		} else if (frame.mode === "indented" && c === "'" && next === "'") {
			const after = source[i + 2] ?? "";
			if (after === "'" || after === "$" || after === "\\") i += 2;
			else {
				modes.pop();
				i++;
			}
		} else if (c === "$" && next === "{") {
			modes.push({ mode: "code", braces: 0 });
			i++;
		}
	}
	lines.push({ text: source.slice(start), shape, inIndentedString: startsIndented });
	return lines;
}

/** A line nixfmt leaves as long as it is: its only breakable content is a string or one token. */
function unbreakable(shape: string, inIndentedString: boolean): boolean {
	if (inIndentedString) return true;
	const trimmed = shape.trim();
	return /^S[;,)\]]*$/.test(trimmed) || /^[\w.'-]+ = S;?$/.test(trimmed) || !/\s/.test(trimmed);
}

/** The lines wider than nixfmt's width that nixfmt would have broken. */
export function wideLines(source: string, width = NIX_LINE_WIDTH): WideLine[] {
	return shapes(source).flatMap(({ text, shape, inIndentedString }, index) => {
		const columns = [...text.trimStart()].length;
		if (columns <= width || unbreakable(shape, inIndentedString)) return [];
		return [{ line: index + 1, columns }];
	});
}
