import { describe, expect, test } from "bun:test";
import { SBOM_NAMESPACE, URL_NAMESPACE, uuidV5 } from "./uuid.ts";

const DNS_NAMESPACE = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

describe("uuidV5", () => {
	test("matches known answers (RFC 9562 A.4; Python's uuid.uuid5)", () => {
		expect(uuidV5("www.example.com", DNS_NAMESPACE)).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
		expect(uuidV5("python.org", DNS_NAMESPACE)).toBe("886313e1-3b8a-5372-9b90-0c9aee199e5d");
	});
	test("the SBOM namespace is the v5 UUID of the repository's URL with #sbom", () => {
		expect(SBOM_NAMESPACE).toBe("5c04f8be-cbf6-5323-a8c2-49cfe9e85f47");
		expect(uuidV5("https://github.com/commiterate/nix-images#sbom", URL_NAMESPACE)).toBe(
			SBOM_NAMESPACE,
		);
	});
	test("is version 5, variant 10", () => {
		expect(uuidV5(`sha256:${"ab".repeat(32)}`, SBOM_NAMESPACE)).toBe(
			"a170b084-7e1b-51ba-a742-c4ddda15fe5e",
		);
	});
});
