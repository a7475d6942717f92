# `nix develop`: every tool the tasks and the manual (README.md, docs/) use.
{
  mkShellNoCC,
  bun,
  nix,
  git,
  skopeo,
  podman,
  dive,
  qemu,
  awscli2,
  zstd,
  jq,
  actionlint,
  shellcheck,
  formatter,
}:
mkShellNoCC {
  packages = [
    bun
    nix
    git
    skopeo
    podman
    dive
    qemu
    awscli2
    zstd
    jq
    actionlint
    shellcheck
    formatter
  ];
}
