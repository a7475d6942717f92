# What an image package tells `bun task sbom` about itself, in its nix-support/:
#   sbom-roots          the store paths whose closure the SBOM lists, one a line
#   sbom-licenses.json  store path -> SPDX license ids, from meta.license
# The task reads only the built output and the local store, so what needs an
# evaluation (which paths are the image's contents, their licenses) is written
# here, at evaluation time. Paths substituted from a cache have no derivation
# to read meta from later. Only builtins: the test fixtures import it too.
{
  # The image's contents: for the container the list given to the image builder,
  # for the disk image the system's toplevel.
  roots,
  # Packages whose licenses are known here (others in the closure get none).
  licensed ? roots,
}:
let
  spdxIds =
    package:
    let
      license = (package.meta or { }).license or [ ];
      licenses = if builtins.isList license then license else [ license ];
    in
    # Licenses without an SPDX id (unfree, public domain variants) are left out, not guessed.
    map (l: l.spdxId) (builtins.filter (l: builtins.isAttrs l && l ? spdxId) licenses);
  known = builtins.filter (entry: entry.ids != [ ]) (
    map (package: {
      path = "${package}";
      ids = spdxIds package;
    }) licensed
  );
  # One entry a store path, sorted by it: a package may be listed twice (NixOS's
  # systemPackages often are), and a JSON object must not hold a key twice.
  entries = map builtins.head (
    builtins.attrValues (builtins.groupBy (entry: builtins.unsafeDiscardStringContext entry.path) known)
  );
in
{
  roots = builtins.concatStringsSep "" (map (root: "${root}\n") roots);
  # Written out by hand: listToAttrs refuses a name that refers to a store path.
  licenses =
    "{"
    + builtins.concatStringsSep "," (
      map (entry: builtins.toJSON entry.path + ":" + builtins.toJSON entry.ids) entries
    )
    + "}\n";
}
