import { describe, expect, test } from "bun:test";
import { wideLines } from "./line-width.ts";

const long = (n: number) => "x".repeat(n);
/** The lines of `source` expected to be reported, by number, with their widths. */
const expected = (source: string, lines: number[]) =>
	lines.map((line) => ({ line, columns: source.split("\n")[line - 1]?.trimStart().length ?? 0 }));

describe("wideLines", () => {
	test("reports a line nixfmt would break, with its number and width", () => {
		const ifElse = `{\n  qemu = if x86 then "qemu-kvm" else "${long(80)}";\n}\n`;
		expect(wideLines(ifElse)).toEqual(expected(ifElse, [2]));
		const list = `{\n  a = [ ${'"x" '.repeat(30)}];\n}\n`;
		expect(wideLines(list)).toEqual(expected(list, [2]));
		const binding = `{\n  package = self.nixosConfigurations.\${system}.config.${long(60)};\n}\n`;
		expect(wideLines(binding)).toEqual(expected(binding, [2]));
	});
	test("leaves alone what nixfmt leaves long: strings, string bindings, one token, comments", () => {
		const source = [
			"{",
			`  description = "${long(120)}";`,
			`  users = map (n: x) [`,
			`    "\${buildUser n}:x:\${toString (30000 + n)}:${long(90)}"`,
			"  ];",
			"  script = ''",
			`    echo ${long(120)} "with quotes" \${interpolated}`,
			"  '';",
			"  package =",
			`    self.nixosConfigurations.\${pkgs.stdenv.hostPlatform.system}.config.${long(60)};`,
			`  # a comment ${long(120)}`,
			"}",
		].join("\n");
		expect(wideLines(source)).toEqual([]);
	});
	test("knows where strings end: escapes, '' escapes and nested interpolations", () => {
		const source = [
			`{`,
			`  a = "quote \\" \${f "}"} still a string ${long(80)}";`,
			`  b = ''it'''s ''\${not} an interpolation ${long(80)}'';`,
			`  c = if y then ${long(40)} else ${long(40)} + zz;`,
			`}`,
		].join("\n");
		expect(wideLines(source)).toEqual(expected(source, [4]));
	});
	test("a line of exactly the width after its indentation is fine", () => {
		expect(wideLines(`    x ${long(98)}`)).toEqual([]);
		expect(wideLines(`    x ${long(99)}`)).toEqual([{ line: 1, columns: 101 }]);
	});
});
