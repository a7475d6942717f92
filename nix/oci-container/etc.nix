# The files the container's /etc needs, as plain strings: builtins only, so
# they evaluate (and are tested) without nixpkgs.
{
  # As many build users as the official Nix image: the most builds that run at once.
  buildUsers ? 32,
}:
let
  ids = builtins.genList (i: i + 1) buildUsers;
  buildUser = n: "nixbld${toString n}";
  lines = entries: builtins.concatStringsSep "\n" entries + "\n";
  certificates = "/etc/ssl/certs/ca-bundle.crt";
in
{
  inherit certificates;

  passwd = lines (
    [
      "root:x:0:0:System administrator:/root:/bin/bash"
      "nobody:x:65534:65534:Unprivileged account:/var/empty:/bin/false"
    ]
    ++ map (
      n:
      "${buildUser n}:x:${toString (30000 + n)}:30000:Nix build user ${toString n}:/var/empty:/bin/false"
    ) ids
  );

  group = lines [
    "root:x:0:"
    "nixbld:x:30000:${builtins.concatStringsSep "," (map buildUser ids)}"
    "nobody:x:65534:"
  ];

  # Locked passwords ("!"): nobody logs in with a password.
  shadow = lines (
    map (name: "${name}:!:1::::::") (
      [
        "root"
        "nobody"
      ]
      ++ map buildUser ids
    )
  );

  # Containers rarely allow the namespaces the sandbox needs (run with
  # --privileged and NIX_CONFIG='sandbox = true' to get it back).
  nixConf = lines [
    "build-users-group = nixbld"
    "sandbox = false"
    "experimental-features = nix-command flakes"
    "max-jobs = auto"
    "substituters = https://cache.nixos.org/"
    "trusted-public-keys = cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
    "ssl-cert-file = ${certificates}"
  ];

  # The environment every process in the container starts with.
  env = {
    USER = "root";
    HOME = "/root";
    PATH = "/root/.nix-profile/bin:/nix/var/nix/profiles/default/bin:/bin:/usr/bin";
    SSL_CERT_FILE = certificates;
    NIX_SSL_CERT_FILE = certificates;
    GIT_SSL_CAINFO = certificates;
    PAGER = "cat";
  };
}
