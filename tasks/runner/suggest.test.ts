import { describe, expect, test } from "bun:test";
import { closest, didYouMean, editDistance } from "./suggest.ts";

describe("editDistance", () => {
	test("counts insertions, deletions and substitutions", () => {
		expect(editDistance("images", "images")).toBe(0);
		expect(editDistance("imgaes", "images")).toBe(2);
		expect(editDistance("clen", "clean")).toBe(1);
		expect(editDistance("", "abc")).toBe(3);
		expect(editDistance("kitten", "sitting")).toBe(3);
	});
});

describe("closest", () => {
	const tasks = ["clean", "analyze", "oci-container", "virtual-machine", "images"];
	test("finds a transposition or a missing letter", () => {
		expect(closest("imgaes", tasks)).toBe("images");
		expect(closest("analyse", tasks)).toBe("analyze");
		expect(closest("clena", tasks)).toBe("clean");
	});
	test("is case-insensitive", () => {
		expect(closest("CLEAN", tasks)).toBe("clean");
	});
	test("falls back to the only candidate the input starts", () => {
		expect(closest("oci", tasks)).toBe("oci-container");
		expect(closest("virt", tasks)).toBe("virtual-machine");
	});
	test("suggests nothing for unrelated input", () => {
		expect(closest("deploy", tasks)).toBeUndefined();
		expect(closest("", tasks)).toBeUndefined();
	});
});

describe("didYouMean", () => {
	test("renders the sentence with a prefix, or nothing", () => {
		expect(didYouMean("sytem", ["system", "flake"], "--")).toBe(' Did you mean "--system"?');
		expect(didYouMean("zzzzzz", ["system"])).toBe("");
	});
});
