# The OCI container: Nix (not NixOS) in a small layered image, for development
# and CI build environments. The package is a directory holding nix.tar.gz (a
# gzipped docker-archive for `docker load` / `podman load`), oci-layout/ (the
# same image as an OCI layout, what publish pushes) and nix-support/ (with the
# SBOM's roots and licenses, see ./sbom.nix).
{
  lib,
  dockerTools,
  buildEnv,
  runCommand,
  nix,
  bashInteractive,
  coreutils,
  gitMinimal,
  gnutar,
  gzip,
  xz,
  gnugrep,
  gnused,
  findutils,
  openssh,
  iana-etc,
  jq,
}:
let
  etc = import ./oci-container/etc.nix { };

  # What nix, git (also over ssh) and CI scripts expect on PATH. bash provides /bin/sh.
  toolPackages = [
    nix
    bashInteractive
    coreutils
    gitMinimal
    gnutar
    gzip
    xz
    gnugrep
    gnused
    findutils
    openssh
    iana-etc
  ];

  # One profile of those tools.
  tools = buildEnv {
    name = "nix-image-tools";
    paths = toolPackages;
    pathsToLink = [
      "/bin"
      "/etc"
    ];
  };

  contents = [
    tools
    dockerTools.caCertificates
    dockerTools.usrBinEnv
  ];

  # The SBOM lists the closure of exactly what the image is made of; the tools' licenses are
  # recorded too, since the profile that links them has none.
  sbom = import ./sbom.nix {
    roots = contents;
    licensed = contents ++ toolPackages;
  };

  image = dockerTools.buildLayeredImage {
    name = "nix";
    # The tag follows the contents, not the git revision, so an unchanged image keeps its hash.
    tag = nix.version;
    inherit contents;
    # Registers the image's store paths, so nix inside knows them (and does not rebuild them).
    includeNixDB = true;
    # The official image's trade-off (NixOS/nix 6d0f174): room for derived images' layers.
    maxLayers = 70;
    # Real files, not links into the store, so derived images can edit them (useradd, …).
    extraCommands = ''
      mkdir -p etc/nix root tmp var/tmp var/empty nix/var/nix/gcroots
      printf '%s' ${lib.escapeShellArg etc.passwd} > etc/passwd
      printf '%s' ${lib.escapeShellArg etc.group} > etc/group
      printf '%s' ${lib.escapeShellArg etc.shadow} > etc/shadow
      printf '%s' ${lib.escapeShellArg etc.nixConf} > etc/nix/nix.conf
    '';
    fakeRootCommands = ''
      chmod 1777 tmp var/tmp
      chmod 0640 etc/shadow
    '';
    config = {
      Cmd = [ "/bin/bash" ];
      WorkingDir = "/root";
      Env = lib.mapAttrsToList (name: value: "${name}=${value}") etc.env;
      Labels = {
        "org.opencontainers.image.title" = "nix";
        "org.opencontainers.image.description" = "Nix with flakes enabled, for development and CI";
        "org.opencontainers.image.version" = nix.version;
        "org.opencontainers.image.source" = "https://github.com/commiterate/nix-images";
      };
    };
  };
in
runCommand "oci-container-${nix.version}"
  {
    nativeBuildInputs = [
      coreutils
      gzip
      gnutar
      jq
    ];
    passthru = {
      inherit image;
      inherit (image) imageName imageTag;
    };
    sbomRoots = sbom.roots;
    sbomLicenses = sbom.licenses;
    passAsFile = [
      "sbomRoots"
      "sbomLicenses"
    ];
  }
  ''
    mkdir -p $out/nix-support
    ln -s ${image} $out/nix.tar.gz
    # The same image as an OCI layout with deterministically compressed layers:
    # what publish pushes, so the registry's digest is this build's.
    bash ${./oci-container/oci-layout.sh} ${image} $out/oci-layout
    echo "file docker-image $out/nix.tar.gz" > $out/nix-support/hydra-build-products
    # Read by `bun task sbom`; they also make this package refer to the contents, so its GC
    # root keeps the closure the SBOM describes in the store.
    cp $sbomRootsPath $out/nix-support/sbom-roots
    cp $sbomLicensesPath $out/nix-support/sbom-licenses.json
  ''
