# How ./configuration.nix becomes the EC2 disk image: a raw GPT/UEFI image made
# by nixpkgs' make-disk-image (in a KVM virtual machine), added as the
# image.modules.ec2-raw variant, so `system.build.images.ec2-raw` is the package:
#   $out/nixos.img                     the disk
#   $out/nix-support/image-info.json   nixpkgs' fields, plus "format": "RAW" and "sha256"
#   $out/nix-support/sbom-roots, sbom-licenses.json   what `bun task sbom` reads (../sbom.nix)
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:
let
  baseName = "nixos";
  # The SBOM lists the system's closure: what the disk holds, not the disk file.
  sbom = import ../sbom.nix {
    roots = [ config.system.build.toplevel ];
    licensed = config.environment.systemPackages ++ [
      config.boot.kernelPackages.kernel
      config.systemd.package
    ];
  };
in
{
  imports = [ "${modulesPath}/image/file-options.nix" ];

  image.baseName = baseName;
  image.extension = "img";

  system.build.image = import "${modulesPath}/../lib/make-disk-image.nix" {
    inherit
      config
      lib
      pkgs
      baseName
      ;
    name = "nixos-ec2-${pkgs.stdenv.hostPlatform.system}";
    format = "raw";
    partitionTableType = "efi";
    # make-disk-image can only write ext4 into a partitioned image; labelled as
    # amazon-image.nix's fileSystems."/" expects.
    fsType = "ext4";
    label = "nixos";
    # As small as the closure: the root partition grows to the EBS volume at boot.
    diskSize = "auto";
    additionalSpace = "512M";
    # Room for systemd-boot's configurationLimit generations of kernel and initrd.
    bootSize = "512M";
    copyChannel = false;
    postVM = ''
      mkdir -p $out/nix-support
      PATH=${
        lib.makeBinPath [
          pkgs.coreutils
          pkgs.jq
        ]
      }:$PATH \
        ${pkgs.runtimeShell} ${./image-info.sh} "$diskImage" \
        ${lib.escapeShellArg config.system.nixos.label} \
        ${pkgs.stdenv.hostPlatform.system} \
        > $out/nix-support/image-info.json
      # Read by `bun task sbom`; the roots also keep the system's closure alive with the image.
      cp ${pkgs.writeText "sbom-roots" sbom.roots} $out/nix-support/sbom-roots
      cp ${pkgs.writeText "sbom-licenses.json" sbom.licenses} $out/nix-support/sbom-licenses.json
    '';
  };
}
