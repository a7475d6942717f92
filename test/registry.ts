/**
 * A real registry for the tests: Debian's docker-registry on 127.0.0.1, with
 * TLS from a throwaway certificate and a password, so skopeo talks to it as
 * to ECR Public. Child processes trust the certificate through SSL_CERT_FILE
 * (which Go's TLS reads); the registry is stopped by `stop`.
 */
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { requireTool, tempDir } from "./helpers.ts";

export interface Registry {
	/** host:port */
	host: string;
	password: string;
	/** What a child process needs to trust the registry's certificate. */
	env: Record<string, string>;
	dir: string;
	/** A Docker auth file with the login, for the test's own skopeo. */
	authFile: string;
	/** The registry's TLS certificate (PEM). */
	cert: string;
	/** What the registry serves for `repository:tag` (its manifest and digest), read with skopeo as a user would. */
	serves: (reference: string) => { digest: string; manifest: string } | undefined;
	stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as { port: number };
	await new Promise<void>((resolve) => server.close(() => resolve()));
	return port;
}

export async function startRegistry(): Promise<Registry> {
	requireTool("docker-registry", "apt-get install docker-registry");
	requireTool("openssl", "apt-get install openssl");
	const dir = tempDir("registry");
	const cert = join(dir, "cert.pem");
	const key = join(dir, "key.pem");
	const made = Bun.spawnSync(
		[
			"openssl",
			"req",
			"-x509",
			"-newkey",
			"rsa:2048",
			"-nodes",
			"-keyout",
			key,
			"-out",
			cert,
			"-days",
			"1",
			"-subj",
			"/CN=127.0.0.1",
			"-addext",
			"subjectAltName=IP:127.0.0.1",
		],
		{ stderr: "pipe" },
	);
	if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
	const password = `registry-password-${Math.random().toString(36).slice(2)}`;
	const hash = await Bun.password.hash(password, { algorithm: "bcrypt", cost: 4 });
	writeFileSync(join(dir, "htpasswd"), `AWS:${hash}\n`);
	const port = await freePort();
	writeFileSync(
		join(dir, "config.yml"),
		[
			"version: 0.1",
			"log: { level: error, accesslog: { disabled: true } }",
			`storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
			`http: { addr: 127.0.0.1:${port}, secret: test, tls: { certificate: ${cert}, key: ${key} } }`,
			`auth: { htpasswd: { realm: registry, path: ${join(dir, "htpasswd")} } }`,
		].join("\n"),
	);
	const child = Bun.spawn(["docker-registry", "serve", join(dir, "config.yml")], {
		stdout: "ignore",
		stderr: Bun.file(join(dir, "registry.log")),
	});
	const host = `127.0.0.1:${port}`;
	for (let i = 0; i < 100; i++) {
		const up = await fetch(`https://${host}/v2/`, { tls: { ca: await Bun.file(cert).text() } })
			.then((response) => response.status === 401)
			.catch(() => false);
		if (up) break;
		if (i === 99) {
			child.kill();
			await child.exited;
			rmSync(dir, { recursive: true, force: true });
			throw new Error(`docker-registry did not come up on ${host}`);
		}
		await Bun.sleep(50);
	}
	const auth = join(dir, "test-auth.json");
	const login = Buffer.from(`AWS:${password}`).toString("base64");
	writeFileSync(auth, JSON.stringify({ auths: { [host]: { auth: login } } }));
	const env = { SSL_CERT_FILE: cert };
	return {
		host,
		password,
		env,
		dir,
		authFile: auth,
		cert,
		serves: (reference) => {
			const inspect = Bun.spawnSync(
				["skopeo", "inspect", "--raw", "--authfile", auth, `docker://${host}/${reference}`],
				{ env: { ...process.env, ...env }, stderr: "pipe" },
			);
			if (inspect.exitCode !== 0) return undefined;
			return {
				digest: `sha256:${new Bun.CryptoHasher("sha256").update(inspect.stdout).digest("hex")}`,
				manifest: inspect.stdout.toString(),
			};
		},
		stop: async () => {
			child.kill();
			await child.exited;
			rmSync(dir, { recursive: true, force: true });
		},
	};
}
