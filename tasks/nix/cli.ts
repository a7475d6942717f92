/** How tasks call the nix CLI: one place for the flags every call needs. */
import { TaskError } from "../runner/errors.ts";

/**
 * A default Nix install has flakes and the nix command turned off; enabling them
 * on the command line makes every task work there without editing nix.conf.
 */
export const NIX_FEATURES = ["--extra-experimental-features", "nix-command flakes"] as const;

export const INSTALL_NIX =
	"install it (https://nixos.org/download, or `apt-get install nix-bin` on Debian and Ubuntu) and run the task again";

/** The path of `name` on PATH, or a TaskError saying how to install Nix. */
export function requireNixTool(name = "nix"): string {
	const path = Bun.which(name);
	if (path === null) throw new TaskError(`\`${name}\` is not on PATH; ${INSTALL_NIX}.`);
	return path;
}
